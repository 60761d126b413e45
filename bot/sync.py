"""The sync loop: fetch, hand every event over, and only then remember how far we got.

matrix-nio's own `sync_forever` saves the sync token *before* running the callbacks, so
a crash in between loses the events of that batch. Homeward runs its own loop: the token
is written to the store only after every event of the batch was handled (and each
handled event is recorded, so a batch seen twice is harmless). A `limited` timeline —
more events arrived than one sync returns, e.g. while the bot was down — is filled in by
paging back to the previous token, so no command is skipped.

Two processes may share a PostgreSQL store (one acting, one standing by). Each syncs with
its own device and keeps its own position (`sync_token/<device>`: a device's position also
says which of its to-device messages, room keys among them, it has seen, so it is never
another device's). The acting process also writes the position up to which the events were
handled (`sync_token`). A standby syncs and decrypts but handles nothing; when it takes
over, it first handles what lies between the handled position and its own, read back from
each room (`catch_up`): handled events are recorded, so what the previous process did
finish is not done again.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import deque
from typing import Protocol

from aiohttp import ClientError
from nio import (
    AsyncClient,
    Event,
    InviteMemberEvent,
    LocalProtocolError,
    MessageDirection,
    RoomMessagesResponse,
    SyncError,
    SyncResponse,
)
from nio.events.misc import BadEvent

from homeward.bot.client import CryptoLock
from homeward.store.db import NotActing, Store, StoreUnavailable
from homeward.store.state import get_value, set_value

log = logging.getLogger(__name__)


def _tolerate_non_numeric_timestamps() -> None:
    """One malformed event must not stop every sync.

    matrix-nio 0.26 turns an event that fails its schema into a `BadEvent`, but
    `BadEvent.from_dict` does `max(0, origin_server_ts)` and raises TypeError when the
    timestamp is not a number; the exception escapes `client.sync()`, and since the sync
    position is not saved, the same batch fails again after every restart. Synapse passes
    such events on from federation unchecked. nio already makes an `UnknownBadEvent` of
    an event whose fields are missing (KeyError); a timestamp of the wrong type becomes one too.
    """
    original = BadEvent.from_dict.__func__
    if getattr(original, "homeward_tolerant", False):
        return

    def from_dict(cls: type[BadEvent], parsed_dict: dict) -> BadEvent:
        try:
            return original(cls, parsed_dict)
        except TypeError:
            raise KeyError("origin_server_ts") from None  # both callers in nio answer a KeyError with UnknownBadEvent

    from_dict.homeward_tolerant = True  # type: ignore[attr-defined]  # a mark on the function, which mypy does not model
    BadEvent.from_dict = classmethod(from_dict)


_tolerate_non_numeric_timestamps()

SYNC_TOKEN_KEY = "sync_token"  # up to where the acting process handled the events
LONG_POLL_MS = 30_000
# A standby polls briefly: when it takes over, the next round handles what it missed at once.
STANDBY_POLL_MS = 1_000
#: Rooms read back at once when taking over.
CATCH_UP_READS = 8
MAX_BACKOFF_S = 30.0
SYNC_FILTER = {
    "presence": {"not_types": ["*"]},
    "account_data": {"not_types": ["*"]},
    "room": {"timeline": {"limit": 100}, "ephemeral": {"not_types": ["*"]}},
}
CONNECTION_ERRORS = (ClientError, asyncio.TimeoutError, TimeoutError, ConnectionError, OSError)


def device_token_key(device_id: str) -> str:
    """Where one device keeps its own sync position."""
    return f"{SYNC_TOKEN_KEY}/{device_id}"


def _behind(token: str, other: str) -> bool:
    """Whether sync token `token` is before `other` on the homeserver's event stream (Synapse's `s<position>_…`);
    when either cannot be read, whether they differ."""
    first, second = re.match(r"s(\d+)", token), re.match(r"s(\d+)", other)
    if first and second:
        return int(first[1]) < int(second[1])
    return token != other


class SyncHandler(Protocol):
    @property
    def acting(self) -> bool: ...

    async def on_invite(self, room_id: str, inviter: str, is_direct: bool) -> None: ...

    async def on_timeline_event(self, room_id: str, event: Event) -> None: ...

    async def after_batch(self) -> None: ...


class SyncLoop:
    """Long-polls the homeserver forever, backing off while it is unreachable."""

    def __init__(
        self, client: AsyncClient, store: Store, handler: SyncHandler, crypto_lock: CryptoLock | asyncio.Lock
    ) -> None:
        self.client = client
        self.store = store
        self.handler = handler
        self.crypto_lock = crypto_lock
        self.synced = asyncio.Event()  # set after each handled batch (tests and start-up wait on it)
        self.connected = True
        self._caught_up = False  # since it began to act, this process has handled what it missed

    @property
    def _device_key(self) -> str:
        return device_token_key(self.client.device_id or "")

    async def run(self) -> None:
        async with self.store.read() as db:
            token = await get_value(db, self._device_key)
            if token is None and self.handler.acting:
                # A store from before each device kept its own position, or a new device of the one process:
                # it goes on from where the events were handled.
                token = await get_value(db, SYNC_TOKEN_KEY)
        first = token is None
        # The first sync of every start asks for the full room state, even when resuming
        # from a token: nio's memory of which rooms are encrypted may be gone (a new device
        # after a lost store), and a reply must never go out unencrypted in an encrypted room.
        full_state: bool | None = True
        backoff = 1.0
        while True:
            acting = self.handler.acting
            if acting and not self._caught_up and not first:
                try:
                    await self.catch_up(token)
                except (NotActing, StoreUnavailable) as exc:
                    log.warning("catching up stopped (%s); tried again at the next round", exc)
                    await asyncio.sleep(1)
                    continue
            self._caught_up = acting
            try:
                response = await self.client.sync(
                    timeout=0 if first or full_state else (LONG_POLL_MS if acting else STANDBY_POLL_MS),
                    since=token,
                    sync_filter=SYNC_FILTER,
                    full_state=full_state,
                )
            except CONNECTION_ERRORS as exc:
                backoff = await self._unreachable(backoff, type(exc).__name__)
                continue
            if isinstance(response, SyncError):
                if response.status_code == "M_UNKNOWN_TOKEN":
                    raise PermissionError("the homeserver no longer accepts the bot's access token")
                backoff = await self._unreachable(backoff, f"{response.status_code} {response.message}")
                continue
            if not self.connected:
                log.info("homeserver reachable again; catching up")
                self.connected = True
            backoff = 1.0
            await self._housekeeping()
            handled = False
            if acting and self.handler.acting:
                try:
                    if first:
                        log.info("first start: skipping %d room(s) of history", len(response.rooms.join))
                        await self._handle_invites(response)
                    else:
                        await self._handle(response, token)
                    handled = True
                except NotActing:
                    # The lease went to another process mid-batch: it handles this batch (its catch-up).
                    log.warning("stopped handling a batch: this process no longer acts")
                except StoreUnavailable as exc:
                    # The database away (a failover, the network): the same batch again, once it is back.
                    backoff = await self._unreachable_store(backoff, exc)
                    continue
            try:
                await self.handler.after_batch()
            except (NotActing, StoreUnavailable) as exc:
                log.warning("after the batch: %s", exc)
            # Let an outbox sender this batch woke take its rows first: an answer waiting behind
            # this commit (an fsync) would wait for nothing, since the token only spares work
            # after a restart (a batch seen again is harmless: handled events are recorded).
            await asyncio.sleep(0)
            await self._save(response.next_batch, handled)
            token, first, full_state = response.next_batch, False, None
            self.synced.set()
            self.synced.clear()

    async def _unreachable_store(self, backoff: float, exc: StoreUnavailable) -> float:
        log.warning("the store cannot be reached (%s); the batch is handled once it is back", exc)
        await asyncio.sleep(backoff)
        return min(backoff * 2, MAX_BACKOFF_S)

    async def _save(self, token: str, handled: bool) -> None:
        """This device's position and, when the batch was handled, the handled position (fenced: only the acting
        process moves it). Not saved while the store is away: the next start syncs from the last one saved."""
        try:
            await self._save_positions(token, handled)
        except StoreUnavailable as exc:
            log.warning("the sync position was not saved (%s)", exc)

    async def _save_positions(self, token: str, handled: bool) -> None:
        if handled:
            try:
                async with self.store.transaction() as db:
                    await set_value(db, SYNC_TOKEN_KEY, token)
                    await set_value(db, self._device_key, token)
                return
            except NotActing:
                log.warning("the handled position was not saved: this process no longer acts")
        async with self.store.transaction(fenced=False) as db:
            await set_value(db, self._device_key, token)

    async def catch_up(self, own_token: str | None) -> None:
        """Taking over: handle what came between the handled position and this device's own, room by room.

        Every event of that stretch is read back from its room (decrypted with this device's
        keys) and handled; what the previous process did handle is recorded as handled and
        passed over. Invites still open are answered."""
        async with self.store.read() as db:
            handled_to = await get_value(db, SYNC_TOKEN_KEY)
        started = time.monotonic()
        count = 0
        if handled_to and own_token and _behind(handled_to, own_token):
            # Read back concurrently (a few rooms at a time), handle room by room in order.
            gate = asyncio.Semaphore(CATCH_UP_READS)

            async def read_back(room_id: str) -> list[Event]:
                async with gate:
                    return await self._backfill(room_id, own_token, handled_to)

            rooms = list(self.client.rooms)
            for room_id, events in zip(rooms, await asyncio.gather(*map(read_back, rooms)), strict=True):
                for event in events:
                    await self.handler.on_timeline_event(room_id, event)
                count += len(events)
        for room_id, room in list(self.client.invited_rooms.items()):
            inviter = getattr(room, "inviter", None)
            if inviter:
                await self.handler.on_invite(room_id, inviter, bool(getattr(room, "is_direct", False)))
        log.info(
            "caught up on taking over: %d event(s) in %d room(s) read back in %.1f s",
            count,
            len(self.client.rooms),
            time.monotonic() - started,
        )

    async def _unreachable(self, backoff: float, reason: str) -> float:
        if self.connected:
            log.warning("homeserver unreachable (%s); retrying with back-off", reason)
            self.connected = False
        else:
            log.info("homeserver still unreachable (%s); next try in %.0f s", reason, backoff)
        await asyncio.sleep(backoff)
        return min(backoff * 2, MAX_BACKOFF_S)

    async def _housekeeping(self) -> None:
        """What nio's sync_forever does between syncs: keys and to-device messages."""
        client = self.client
        if not client.olm:
            return
        async with self.crypto_lock:
            try:
                if client.should_upload_keys:
                    await client.keys_upload()
                if client.should_query_keys:
                    await client.keys_query()
                if client.should_claim_keys:
                    await client.keys_claim(client.get_users_for_key_claiming())
                await client.send_to_device_messages()
            except LocalProtocolError as exc:
                log.debug("key housekeeping skipped: %s", exc)

    async def _handle_invites(self, response: SyncResponse) -> None:
        for room_id, info in response.rooms.invite.items():
            inviter, is_direct = None, False
            for event in info.invite_state:
                if isinstance(event, InviteMemberEvent) and event.state_key == self.client.user_id:
                    inviter = event.sender
                    is_direct = bool(event.content.get("is_direct"))
            if inviter:
                await self.handler.on_invite(room_id, inviter, is_direct)

    async def _handle(self, response: SyncResponse, previous_token: str | None) -> None:
        """Every room's events in their order, the rooms in turn: one event of each room, then the
        next of each, so a room with a flood of commands in this batch does not hold up the one
        command of another room (order matters within a room, never across rooms)."""
        await self._handle_invites(response)
        rooms: list[tuple[str, deque[Event]]] = []
        for room_id, info in response.rooms.join.items():
            events = list(info.timeline.events)
            if info.timeline.limited and previous_token:
                events = await self._backfill(room_id, info.timeline.prev_batch, previous_token) + events
            if events:
                rooms.append((room_id, deque(events)))
        while rooms:
            for room_id, queue in rooms:
                await self.handler.on_timeline_event(room_id, queue.popleft())
            rooms = [(room_id, queue) for room_id, queue in rooms if queue]

    async def _backfill(self, room_id: str, from_token: str, to_token: str) -> list[Event]:
        """The events a limited sync left out, oldest first."""
        missing: list[Event] = []
        start = from_token
        while True:
            page = await self.client.room_messages(
                room_id, start=start, end=to_token, direction=MessageDirection.back, limit=100
            )
            if not isinstance(page, RoomMessagesResponse) or not page.chunk:
                break
            missing.extend(page.chunk)
            if not page.end or page.end == start:
                break
            start = page.end
        if missing:
            log.info("room=%s backfilled %d event(s) after a gap", room_id, len(missing))
        missing.reverse()
        return missing
