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

from homeward.commands.care_room import CareRoom
from homeward.commands.checklist import edit_of
from homeward.render import notice_content
from homeward.services import Services
from homeward.store.cases import load_room
from homeward.store.db import Store
from homeward.store.state import mark_handled

log = logging.getLogger(__name__)


async def member_joined(room_id: str, event_id: str, user_id: str, store: Store, services: Services) -> bool:
    """Handle a join in a care room (once per join event); True when a checklist was posted."""
    now = services.clock.now()
    async with store.transaction() as db:
        info, loaded = await load_room(db, room_id, services.pathways)
        if info is None or loaded is None or user_id in (services.config.user_id, loaded.case.opened_by):
            return False
        room = CareRoom(db, services, info, loaded, user_id, event_id, now)
        if room.member is None:
            return False  # joined without a lane: `!invite` or `!role` gives one, the checklist follows
        if not await mark_handled(db, event_id, room_id, now):
            return False
        old = loaded.checklist
        await room.post_checklist(after_join=user_id)
        if old is not None:
            # Updates of the old one still unsent go first (the outbox keeps order), so the
            # pointer is what the old message finally shows.
            # Held like the new one (bot/sender.py JOIN_SETTLE_S): sent at the moment of the join,
            # the newcomer's Element could not decrypt it and would show it as an unreadable message.
            pointer = room.t("checklist.reposted")
            await room.queue({**edit_of(old, notice_content(pointer), pointer), "homeward.after_join": user_id})
    log.info("room=%s event=%s member joined; checklist posted again", room_id, event_id)
    services.wake_outbox()
    return True
