"""The one gate: whether a command may run here and by this person.

Both halves come from the command's own declaration — its room scope (`where=`) and its
rule (`rule=`, `care.permissions`) — and the sender's membership, which the care room's
unit of work has already loaded. `!help` asks the same gate, so it lists exactly what
the person may run.
"""

from __future__ import annotations

from homeward.care.permissions import allowed, refusal_key
from homeward.commands.care_room import CareRoom
from homeward.commands.registry import ANYWHERE, CASE_ROOM, DIRECT_ROOM, Command, CommandError


def check(command: Command, room_kind: str, room: CareRoom | None) -> None:
    """Raise a CommandError saying why, when `command` may not run in this room or by this sender."""
    if command.where == CASE_ROOM and room_kind != "case":
        raise CommandError("error.only_in_case_room", name=command.name)
    if command.where == DIRECT_ROOM and room_kind == "case":
        raise CommandError("error.not_in_case_room", name=command.name)
    if command.where not in (ANYWHERE, CASE_ROOM, DIRECT_ROOM):
        raise ValueError(f"unknown room scope {command.where!r} on {command.name}")
    member = room.member if room else None
    if room_kind == "case" and member is None:
        raise CommandError("permission.not_member")
    if not allowed(command.rule, member, room.lane_role if room else None):
        raise CommandError(refusal_key(command.rule, member), name=command.typed_name)


def allows(command: Command, room_kind: str, room: CareRoom | None) -> bool:
    try:
        check(command, room_kind, room)
    except CommandError:
        return False
    return True
