"""The one gate: whether a command may run here, by this person, in this state of the case.

Everything comes from the command's own declaration — its room scope (`where=`), its
rule (`rule=`, `care.permissions`), whether it needs encryption (`needs_encryption=`),
the state of the case it needs (`state=`) — and from what is known of the asker and the
room: their membership and the case, which the care room's unit of work has already
loaded, whether the configuration names them in `case_openers`, and whether the chat
holds only them and the bot. `!help` asks the same gate, so it lists exactly what the
person may run.

A private chat (`PRIVATE_CHAT`) is the sender and the bot alone, end-to-end encrypted:
what a command says there (the desk: every case of the person, by label) is nobody
else's to read, the homeserver's included.
"""

from __future__ import annotations

from homeward.care.permissions import Asker, allowed, refusal_key
from homeward.commands.context import Context
from homeward.commands.registry import (
    ANY_STATE,
    ANYWHERE,
    CASE_ROOM,
    DIRECT_ROOM,
    OPEN_CASE,
    PRIVATE_CHAT,
    Command,
    CommandError,
)


def check(command: Command, ctx: Context) -> None:
    """Raise a CommandError saying why, when `command` may not run in this room, by this sender, now."""
    room_kind, room, event = ctx.room_kind, ctx.room, ctx.event
    if command.where == CASE_ROOM and room_kind != "case":
        raise CommandError("error.only_in_case_room", name=command.name)
    if command.where in (DIRECT_ROOM, PRIVATE_CHAT) and room_kind == "case":
        raise CommandError("error.not_in_case_room", name=command.name)
    if command.where == PRIVATE_CHAT and not event.private:
        raise CommandError("error.only_in_private_chat", name=command.name)
    if command.where == PRIVATE_CHAT and not (event.encrypted and event.room_encrypted):
        raise CommandError("error.private_chat_not_encrypted", name=command.name)
    if command.where not in (ANYWHERE, CASE_ROOM, DIRECT_ROOM, PRIVATE_CHAT):
        raise ValueError(f"unknown room scope {command.where!r} on {command.name}")
    member = room.member if room else None
    if room_kind == "case" and member is None:
        raise CommandError("permission.not_member")
    config = ctx.services.config
    who = Asker(
        member=member,
        lane_role=room.lane_role if room else None,
        case_opener=config.case_opener(ctx.sender),
        case_has_coordinator=bool(room.view.coordinators()) if room else True,
    )
    if not allowed(command.rule, who):
        raise CommandError(refusal_key(command.rule, who), name=command.typed_name)
    if command.rule.kind == "opener" and not config.server_allowed(ctx.sender):
        # A care room admits only the servers the region trusts: its opener could not even join it.
        raise CommandError(
            "permission.server_not_allowed", name=command.typed_name, servers=", ".join(config.allowed_servers or [])
        )
    if command.needs_encryption and not (event.encrypted and event.room_encrypted):
        raise CommandError("error.needs_encryption", name=command.typed_name)
    if room is not None and command.state != ANY_STATE and room.view.state != command.state:
        # A closed case is read, exported and reopened; nothing else changes it until then.
        key = "error.case_closed" if command.state == OPEN_CASE else "error.case_not_closed"
        raise CommandError(key, name=command.typed_name)


def allows(command: Command, ctx: Context) -> bool:
    try:
        check(command, ctx)
    except CommandError:
        return False
    return True
