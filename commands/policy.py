"""The one gate: whether a command may run here, by this person, in this state of the case.

Everything comes from the command's own declaration — its room scope (`where=`), its
rule (`rule=`, `care.permissions`) and the state of the case it needs (`state=`) — and
the sender's membership and the case, which the care room's unit of work has already
loaded. `!help` asks the same gate, so it lists exactly what the person may run.
"""

from __future__ import annotations

from homeward.care.permissions import allowed, refusal_key
from homeward.commands.care_room import CareRoom
from homeward.commands.registry import (
    ANY_STATE, ANYWHERE, CASE_ROOM, DIRECT_ROOM, OPEN_CASE, PRIVATE_CHAT, Command, CommandError,
)


def check(command: Command, room_kind: str, room: CareRoom | None, private: bool = False) -> None:
    """Raise a CommandError saying why, when `command` may not run in this room, by this sender, now.

    `private`: the room holds nobody but the sender and the bot.
    """
    if command.where == CASE_ROOM and room_kind != "case":
        raise CommandError("error.only_in_case_room", name=command.name)
    if command.where in (DIRECT_ROOM, PRIVATE_CHAT) and room_kind == "case":
        raise CommandError("error.not_in_case_room", name=command.name)
    if command.where == PRIVATE_CHAT and not private:
        raise CommandError("error.only_in_private_chat", name=command.name)
    if command.where not in (ANYWHERE, CASE_ROOM, DIRECT_ROOM, PRIVATE_CHAT):
        raise ValueError(f"unknown room scope {command.where!r} on {command.name}")
    member = room.member if room else None
    if room_kind == "case" and member is None:
        raise CommandError("permission.not_member")
    if not allowed(command.rule, member, room.lane_role if room else None):
        raise CommandError(refusal_key(command.rule, member), name=command.typed_name)
    if room is not None and command.state != ANY_STATE and room.view.state != command.state:
        # A closed case is read, exported and reopened; nothing else changes it until then.
        key = "error.case_closed" if command.state == OPEN_CASE else "error.case_not_closed"
        raise CommandError(key, name=command.typed_name)


def allows(command: Command, room_kind: str, room: CareRoom | None, private: bool = False) -> bool:
    try:
        check(command, room_kind, room, private)
    except CommandError:
        return False
    return True
