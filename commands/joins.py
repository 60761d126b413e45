"""When someone joins a care room, post the checklist again so they can read it.

A care room shows history to members from their invitation on (`history_visibility:
invited`), so the checklist posted before someone was invited is not theirs to read: the
homeserver answers M_NOT_FOUND, and Element, which shows edits only on their original
message, then shows none of the checklist's updates either. So when a member of the case
joins, the bot posts the checklist anew, pins it, makes it the one later updates edit,
and edits the old message into a pointer to the new one. The opener of the case is in the
room from its creation, before the first checklist: nobody else is.
"""

from __future__ import annotations

import logging

from homeward.commands.care_room import edit_of, post_checklist
from homeward.commands.context import Context, IncomingCommand
from homeward.commands.registry import Command
from homeward.render import notice_content
from homeward.services import Services
from homeward.store import cases, outbox
from homeward.store.db import Store
from homeward.store.state import mark_handled, room_info

log = logging.getLogger(__name__)


async def member_joined(room_id: str, event_id: str, user_id: str, store: Store, services: Services) -> bool:
    """Handle a join in a care room (once per join event); True when a checklist was posted."""
    now = services.clock.now()
    async with store.transaction() as db:
        case = await cases.case_for_room(db, room_id)
        if case is None or user_id == services.config.user_id or user_id == case.opened_by:
            return False
        view = await cases.load_view(db, case, services.pathways[case.pathway_id])
        if user_id not in view.members:
            return False  # joined without a lane: `!invite` or `!role` gives one, the checklist follows
        if not await mark_handled(db, event_id, room_id, now):
            return False
        info = await room_info(db, room_id)
        language = info[1] if info else services.config.language
        joined = IncomingCommand(room_id=room_id, event_id=event_id, sender=user_id, body="", timestamp_ms=0)
        ctx = Context(event=joined, line=None, command=Command(("join",)), language=language, db=db, services=services, now=now)  # type: ignore[arg-type]
        old = await cases.checklist_outbox(db, case.id, view.phase_id)
        await post_checklist(ctx, case.id, room_id, view)
        if old is not None:
            await _point_to_new(ctx, old)
    log.info("room=%s event=%s member joined; checklist posted again", room_id, event_id)
    services.wake_outbox()
    return True


async def _point_to_new(ctx: Context, old: int) -> None:
    """Edit the old checklist into a pointer. Updates of it still unsent go first (the outbox
    keeps order), so the pointer is what the old message finally shows."""
    pointer = ctx.t("checklist.reposted")
    await outbox.enqueue(ctx.db, ctx.room_id, "m.room.message", edit_of(old, notice_content(pointer), pointer), ctx.now)
