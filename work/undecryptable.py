"""Events the bot could not decrypt: kept (ciphertext only) until their key comes, the sender told once.

Room keys usually arrive within a sync or two; an event still undecryptable after a short
grace is answered, once, telling its sender that the bot could not read it (the answer is
recorded in the same transaction as the mark, so it never goes twice); after an hour it
is given up. Decrypting is the bot's (`bot.app`); what is kept and said is decided here.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from homeward.matrix.content import notice_content
from homeward.matrix.relations import reply_relation
from homeward.store import outbox
from homeward.store.db import Store
from homeward.store.state import add_undecrypted, forget_undecrypted, mark_undecrypted_notified, room_info, was_handled
from homeward.text import mention
from homeward.work.services import Services

log = logging.getLogger(__name__)

GRACE_S = 5.0  # room keys usually arrive within a sync or two
GIVE_UP_S = 3600.0


async def remember(
    store: Store, services: Services, room_id: str, event_id: str, sender: str, source: dict[str, Any]
) -> None:
    """Keep an event that could not be decrypted yet (unless it was handled already)."""
    async with store.transaction() as db:
        if await was_handled(db, event_id):
            return
        if await add_undecrypted(db, event_id, room_id, sender, source, services.clock.now()):
            log.info("room=%s event=%s could not be decrypted yet", room_id, event_id)


async def forget(store: Store, event_id: str) -> None:
    async with store.transaction() as db:
        await forget_undecrypted(db, event_id)


async def tell_sender(
    store: Store,
    services: Services,
    room_id: str,
    event_id: str,
    sender: str,
    source: dict[str, Any],
    first_seen: str,
    thread_root: str | None,
) -> None:
    """Answer the undecryptable event once: its sender is told the bot could not read it, and when it was sent."""
    now = services.clock.now()
    zone = ZoneInfo(services.config.timezone)
    local = _local_time(source.get("origin_server_ts"), datetime.fromisoformat(first_seen), zone)
    async with store.transaction() as db:
        info = await room_info(db, room_id)
        language = info.language if info else services.config.language
        text = services.catalog.t(language, "bot.undecryptable", user=mention(sender), sent=local)
        content = notice_content(text)
        content["m.relates_to"] = reply_relation(event_id, thread_root)  # the relation is in clear text
        content["homeward.status"] = "error"
        content["homeward.undecryptable"] = event_id
        await outbox.enqueue(db, room_id, "m.room.message", content, now)
        await mark_undecrypted_notified(db, event_id, now)
    log.warning("room=%s event=%s undecryptable; sender told", room_id, event_id)
    services.wake_outbox()


def _local_time(origin_server_ts: object, fallback: datetime, zone: ZoneInfo) -> str:
    """When the sender's server says the event was sent, in local time; `fallback` when that is no usable time."""
    moment = fallback
    if isinstance(origin_server_ts, (int, float)) and not isinstance(origin_server_ts, bool):
        # e.g. a year beyond 9999: a remote server's clock is not ours to trust
        with contextlib.suppress(OverflowError, OSError, ValueError):
            moment = datetime.fromtimestamp(origin_server_ts / 1000, tz=UTC).astimezone(zone)
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")
