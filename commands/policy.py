"""Who may run a command where. Every refusal for "not here" or "not you" comes from here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from commands.registry import ANYWHERE, CASE_ROOM, DIRECT_ROOM, Command, CommandError
from store.state import room_info

if TYPE_CHECKING:
    from commands.context import Context


class Policy:
    """Checks a command's `where` against the kind of room it was sent in."""

    async def room_kind(self, ctx: "Context") -> str:
        info = await room_info(ctx.db, ctx.room_id)
        return info[0] if info else "other"

    async def allows(self, ctx: "Context", command: Command) -> bool:
        try:
            await self._check(ctx, command)
        except CommandError:
            return False
        return True

    async def authorize(self, ctx: "Context") -> None:
        """Raise a CommandError saying why, when `ctx.command` may not run here."""
        await self._check(ctx, ctx.command)

    async def _check(self, ctx: "Context", command: Command) -> None:
        kind = await self.room_kind(ctx)
        if command.where == CASE_ROOM and kind != "case":
            raise CommandError("error.only_in_case_room", name=command.name)
        if command.where == DIRECT_ROOM and kind == "case":
            raise CommandError("error.not_in_case_room", name=command.name)
        if command.where not in (ANYWHERE, CASE_ROOM, DIRECT_ROOM):
            raise ValueError(f"unknown room scope {command.where!r} on {command.name}")
