"""The bot was invited into a room that is no care room: it greets, and remembers a direct chat.

The room is remembered with the bot's language and greeted once (in the same transaction,
so a restart never greets twice); an encrypted direct chat becomes where the inviter's
morning worklist goes (`work.worklists.record_direct_chat`).
"""

from __future__ import annotations

import logging

from homeward.matrix.content import notice_content
from homeward.store import outbox
from homeward.store.db import Store
from homeward.store.retention import purged_room
from homeward.store.state import remember_room, room_info
from homeward.work.services import Services
from homeward.work.worklists import record_direct_chat

log = logging.getLogger(__name__)


async def was_removed(store: Store, room_id: str) -> bool:
    """Whether `room_id` is a case whose retention run removed it: the bot does not come back."""
    async with store.read() as db:
        return await purged_room(db, room_id)


async def joined_on_invite(
    store: Store, services: Services, room_id: str, inviter: str, *, is_direct: bool, worklist_chat: bool
) -> None:
    """After joining: greet a room the bot did not know, and record an encrypted direct chat for the worklist."""
    config = services.config
    now = services.clock.now()
    async with store.transaction() as db:
        known = await room_info(db, room_id)
        if known is None:
            await remember_room(db, room_id, "direct" if is_direct else "other", config.language, now)
            greeting = notice_content(services.catalog.t(config.language, "bot.greeting"))
            await outbox.enqueue(db, room_id, "m.room.message", greeting, now)
        if worklist_chat and (known is None or known.kind != "case"):
            await record_direct_chat(db, services, inviter, room_id, now)  # where the inviter's worklist goes
    log.info("room=%s joined on invite (direct=%s)", room_id, is_direct)
    services.wake_outbox()
