"""Sends the outbox, in order, and records each message as sent only once the homeserver took it.

Every row is sent with the transaction id `homeward-<row id>`: if the bot dies after the
homeserver accepted a message but before the row was marked, the resend after restart
reuses the id and the homeserver returns the first event instead of posting a copy.
"""

from __future__ import annotations

import asyncio
import logging

from nio import AsyncClient, LocalProtocolError, RoomSendResponse

from bot.sync import CONNECTION_ERRORS
from homeward.clock import Clock
from store import outbox
from store.db import Store

log = logging.getLogger(__name__)

RETRY_S = 5.0
# Errors after which a message can never be delivered (the bot left or was removed).
PERMANENT = {"M_FORBIDDEN", "M_NOT_FOUND", "M_BAD_JSON", "M_TOO_LARGE"}
MAX_ATTEMPTS = 50


class OutboxSender:
    def __init__(self, client: AsyncClient, store: Store, clock: Clock, crypto_lock: asyncio.Lock) -> None:
        self.client = client
        self.store = store
        self.clock = clock
        self.crypto_lock = crypto_lock
        self._wake = asyncio.Event()
        self.idle = asyncio.Event()  # set whenever the outbox is empty

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            delivered_all = await self.flush()
            if delivered_all:
                self.idle.set()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=None if delivered_all else RETRY_S)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()

    async def flush(self) -> bool:
        """Send what is pending; True when nothing is left."""
        while True:
            async with self.store.read() as db:
                rows = await outbox.pending(db)
            if not rows:
                return True
            self.idle.clear()
            waiting: set[str] = set()  # rooms whose earlier message could not go yet: keep order
            for row in rows:
                if row.room_id in waiting:
                    continue
                if row.room_id not in self.client.rooms:
                    # Joined a moment ago: nio learns the room (and its encryption) from the next sync.
                    waiting.add(row.room_id)
                    continue
                if not await self._send(row):
                    return False
            if waiting and len(waiting) >= len({r.room_id for r in rows}):
                return False

    async def _send(self, row: outbox.OutboxRow) -> bool:
        """False when sending must pause (homeserver away); the row stays pending."""
        try:
            async with self.crypto_lock:
                if self.client.olm and self.client.should_query_keys:
                    await self.client.keys_query()
            response = await self.client.room_send(
                row.room_id, row.event_type, row.content, tx_id=row.txn_id, ignore_unverified_devices=True
            )
        except CONNECTION_ERRORS as exc:
            async with self.store.transaction() as db:
                await outbox.mark_failed(db, row.id, type(exc).__name__)
            log.warning("room=%s outbox=%d homeserver unreachable; will retry", row.room_id, row.id)
            return False
        except LocalProtocolError as exc:
            async with self.store.transaction() as db:
                await outbox.mark_failed(db, row.id, str(exc))
            log.warning("room=%s outbox=%d not sendable yet (%s); will retry", row.room_id, row.id, exc)
            return False
        if isinstance(response, RoomSendResponse):
            async with self.store.transaction() as db:
                await outbox.mark_sent(db, row.id, response.event_id, self.clock.now())
            log.debug("room=%s outbox=%d sent as %s", row.room_id, row.id, response.event_id)
            return True
        code = getattr(response, "status_code", None) or "unknown"
        async with self.store.transaction() as db:
            if code in PERMANENT or row.attempts + 1 >= MAX_ATTEMPTS:
                await outbox.mark_abandoned(db, row.id, f"{code}: {getattr(response, 'message', '')}", self.clock.now())
                log.error("room=%s outbox=%d cannot be delivered (%s); given up", row.room_id, row.id, code)
                return True
            await outbox.mark_failed(db, row.id, str(code))
        log.warning("room=%s outbox=%d refused (%s); will retry", row.room_id, row.id, code)
        return False
