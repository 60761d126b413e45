"""Who may run a command where: the room scope of the command, and the permission table.

Every refusal for "not here" or "not you" comes from here; the table itself is
`care.permissions.PERMISSIONS`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeward.care.case import Membership
from homeward.care.permissions import allowed, refusal_key
from homeward.commands.registry import ANYWHERE, CASE_ROOM, DIRECT_ROOM, Command, CommandError
from homeward.store.cases import case_for_room
from homeward.store.state import room_info

if TYPE_CHECKING:
    from homeward.commands.context import Context


class Policy:
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
        """Raise a CommandError saying why, when `ctx.command` may not run here or by this user."""
        await self._check(ctx, ctx.command)

    async def _check(self, ctx: "Context", command: Command) -> None:
        kind = await self.room_kind(ctx)
        if command.where == CASE_ROOM and kind != "case":
            raise CommandError("error.only_in_case_room", name=command.name)
        if command.where == DIRECT_ROOM and kind == "case":
            raise CommandError("error.not_in_case_room", name=command.name)
        if command.where not in (ANYWHERE, CASE_ROOM, DIRECT_ROOM):
            raise ValueError(f"unknown room scope {command.where!r} on {command.name}")
        member, role = await self.membership(ctx) if kind == "case" else (None, None)
        if kind == "case" and member is None:
            raise CommandError("permission.not_member")
        self.require(command.name, member, role)

    async def membership(self, ctx: "Context") -> tuple[Membership | None, str | None]:
        """The sender's membership of this room's case and their lane's role."""
        case = await case_for_room(ctx.db, ctx.room_id)
        if case is None:
            return None, None
        async with ctx.db.execute(
            "SELECT lane_id, coordinator FROM members WHERE case_id = ? AND user_id = ?", (case.id, ctx.sender)
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return None, None
        member = Membership(ctx.sender, row["lane_id"], bool(row["coordinator"]))
        pathway = ctx.services.pathways.get(case.pathway_id)
        role = pathway.lane(member.lane).role if pathway and member.lane else None
        return member, role

    @staticmethod
    def require(name: str, member: Membership | None, role: str | None, shown: str | None = None) -> None:
        """Refuse unless the permission table lets this member run `name` (shown to the user as `shown`)."""
        if not allowed(name, member, role):
            raise CommandError(refusal_key(name, member), name=shown or name)

