"""Sends the outbox: rooms in parallel, each room in order; a row is recorded as sent only once the
homeserver took it.

Order matters within a room (a checklist edit after the checklist, an invite after the room's
creation, answers in the order of their commands), never across rooms. The sender keeps one
lane per room (rows in id order) and works up to `concurrency` lanes at once, one request in
flight per lane, taking lanes in turn (round-robin): a lane that has sent a row goes to the back,
behind every other lane with something to send, so one room's backlog (a flood of commands, a
morning's reminders) never delays another room's next event. Rows whose room is one an earlier
row creates (`store.outbox.ref`) form the lane of that room once it exists.

Every event is sent with the transaction id `homeward-<row id>`: if the bot dies after
the homeserver accepted a message but before the row was marked, the resend after
restart reuses the id and the homeserver returns the first event instead of posting a
copy; with several rows in flight at a crash, each is resent with its own id. State
events and invites are idempotent by nature. Room creation is not: its row counts the
attempt before the request, and a retry first looks for the room a lost attempt may have
created (by the random case key in its state).

Encryption: the sync loop handles a response under `crypto_lock` alone (bot/client.py);
sends share it (`CryptoLock.shared`), so their HTTP requests overlap while Olm and Megolm
work — synchronous code between two awaits — never interleaves with a sync, and each room's
key is shared and used by one send at a time (its lane's).

A file row uploads its bytes first (encrypted as an attachment when the room is
encrypted; an image's thumbnail too) and then sends the m.file or m.image event with the
row's transaction id: after a crash between the two, the retry uploads again (an orphaned
media file, harmless) but never posts twice.

Rows may refer to other rows (`store.outbox.ref`): a checklist edit to the checklist's
event, an invite to the room a previous row created. Such values are filled in when the
row is sent; a row whose referent is still on its way waits for it (in whatever lane it is),
and a row whose referent was never delivered is abandoned with it.

On a store shared by two processes (PostgreSQL), the sender sends only while its process
holds the lease with time to spare (`may_send`, asked before every send), every mark it
writes is fenced by the lease (store/db.py), and each event carries its row
(`outbox.MARKER_KEY`), so that the process that takes over after it can tell a row it sent
but did not mark from one it never sent (bot/takeover.py).

A leave row (a case's retention run) goes after everything queued before it in its room;
once the bot is out, whatever was still waiting for that room is given up and no row of
it keeps content (`store.outbox.forget_room`).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections import deque
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, cast

from nio import (
    AsyncClient,
    LocalProtocolError,
    RoomCreateResponse,
    RoomGetStateEventResponse,
    RoomInviteResponse,
    RoomKickResponse,
    RoomLeaveResponse,
    RoomPutStateResponse,
    RoomSendResponse,
    UploadResponse,
)
from nio.api import RoomPreset, RoomVisibility

from homeward.bot.client import CryptoLock
from homeward.bot.devices import keys_due, room_keys
from homeward.bot.sync import CONNECTION_ERRORS
from homeward.bot.takeover import SentBefore
from homeward.clock import Clock
from homeward.store import outbox
from homeward.store.cases import bind_room
from homeward.store.db import NotActing, Store, StoreUnavailable
from homeward.store.people import forget_direct_room
from homeward.store.state import remember_room, room_info

log = logging.getLogger(__name__)

RETRY_S = 5.0
# How often at most the store's WAL is emptied after rows were settled (their cleared content
# still sits in the WAL's older page copies until then; store.db.Store.checkpoint).
CHECKPOINT_EVERY_S = 60.0
# After an invite, how long later messages in the room wait for nio to see it (see _resolve).
INVITE_SYNC_WAIT_S = 10.0
# What is posted for a newcomer (their consent requests, the checklist again) waits this long after
# the bot saw them join. Element with "exclude insecure devices" on (Element Web 1.11.88, Rust crypto)
# refuses for good a room key that arrives before it has fetched the sender's device keys
# (UNKNOWN_SENDER_DEVICE), and it fetches the room's members' keys only once it has joined: sent at
# once, those messages were unreadable to the newcomer in 2 of 5 walks of `make screenshots`.
JOIN_SETTLE_S = 3.0
# Errors after which a row can never be delivered (the bot left or was removed, a bad request).
PERMANENT = {"M_FORBIDDEN", "M_NOT_FOUND", "M_BAD_JSON", "M_TOO_LARGE", "M_UNKNOWN", "M_INVALID_PARAM"}
MAX_ATTEMPTS = 50
CASE_KEY_STATE = "org.homeward.case"  # holds only a random key, never anything about the child
#: Requests in flight at once, one per room (the `outbox_concurrency` setting). The morning's sweep on a
#: quiet 2-core machine (BENCHMARKS.md, "Morning"): 1, 2, 4, 8, 16 in flight took 44.9, 22.6, 19.1, 16.2, 17.0 s.
DEFAULT_CONCURRENCY = 8
#: The most rows read from the outbox at once; the rest are read as these go.
READ_LIMIT = 1000


class _Wait(Exception):
    """The row cannot go yet (a referent unsent, the room not synced); keep it and its room's order."""

    def __init__(self, referent: int | None = None) -> None:
        super().__init__(referent)
        self.referent = referent  # the row it waits for, if that is what it waits for


class _NotJoinedYet(Exception):
    """The row is for someone who has not joined yet (e.g. a consent request); later rows may pass it."""


class _Abandon(Exception):
    """The row can never go (its referent was abandoned, or the room is one it must not go to:
    not encrypted for what must be, a private chat that is not private)."""

    def __init__(self, reason: str = "an earlier message it depends on was never delivered") -> None:
        super().__init__(reason)
        self.reason = reason


#: Why a row for an encrypted room is given up when the bot runs with `encryption = false`.
NEVER_IN_CLEAR = "the room is end-to-end encrypted and encryption = false, so nothing is sent there as clear text"

# What one turn of a lane came to (`OutboxSender._turn`).
SENT = "sent"  # a row went: the lane goes to the back of the rotation
BLOCKED = "blocked"  # its first row waits (a referent, the room's sync) or was refused for now
IDLE = "idle"  # nothing it holds can go now (rows held for a newcomer) or nothing left
GONE = "gone"  # the bot left the room: the lane is closed
OFFLINE = "offline"  # the homeserver is unreachable: every lane pauses


@dataclass
class _Lane:
    """One room's rows, in id order, that are not in flight."""

    key: str  # the room id, or the placeholder of a room an earlier row creates
    rows: list[outbox.OutboxRow] = field(default_factory=list)
    busy: bool = False  # a turn of it is running (one request in flight per room)
    blocked_on: int | None = None  # BLOCKED on this row (a referent); None: on anything


@dataclass
class _Turn:
    outcome: str
    progressed: bool  # a row was settled (sent or given up)
    referent: int | None = None  # BLOCKED: the row it waits for


class OutboxSender:
    def __init__(
        self,
        client: AsyncClient,
        store: Store,
        clock: Clock,
        crypto_lock: CryptoLock | asyncio.Lock,
        encryption: bool = True,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        self.client = client
        self.store = store
        self.clock = clock
        self.crypto_lock = crypto_lock
        self.encryption = encryption
        self.concurrency = max(1, concurrency)
        self._wake = asyncio.Event()
        self.idle = asyncio.Event()  # set whenever the outbox is empty
        self._invited: dict[str, dict[str, float]] = {}  # room -> user -> when we invited them (monotonic)
        self._settled_since_checkpoint = False
        self._last_checkpoint = time.monotonic()
        self._joined: dict[tuple[str, str], float] = {}  # (room, user) -> when a row first saw them joined (monotonic)
        self._held: set[int] = set()  # rows waiting for a newcomer in this round: what refers to them waits too, aside
        self._lanes: dict[str, _Lane] = {}
        self._ready: deque[str] = deque()  # lanes with something to try, in turn
        self._flying: set[int] = set()  # rows whose request is in flight
        self._parsed: dict[int, tuple[str, outbox.OutboxRow]] = {}  # row id -> (content as stored, the row)
        self._more = False  # the last read stopped at READ_LIMIT
        self._keys_query = asyncio.Lock()
        #: For measurements: the most requests that were ever in flight at once.
        self.most_in_flight = 0
        # A shared store: whether this process may send now (it holds the lease with time to spare),
        # whether events carry their row, and the rows the process before may have sent.
        self.may_send: Callable[[], bool] = lambda: True
        self.time_left: Callable[[], float | None] = lambda: None  # a send in flight is given up by then
        self.mark_rows = False
        self.sent_before: SentBefore | None = None

    def wake(self) -> None:
        self.idle.clear()  # rows may have been queued: idle again once a round finds nothing left
        self._wake.set()

    async def run(self) -> None:
        try:
            await self._run()
        except NotActing:
            log.warning("the outbox stops: this process no longer holds the lease")

    async def _run(self) -> None:
        while True:
            self._wake.clear()  # a wake from now on is seen by flush (new rows) or by the wait below
            try:
                delivered_all = await self.flush()
            except StoreUnavailable as exc:
                log.warning("the outbox waits for the store (%s)", exc)
                await asyncio.sleep(RETRY_S)
                continue
            checkpoint_in = await self._checkpoint_when_due()
            if delivered_all:
                self.idle.set()
            timeout = RETRY_S if not delivered_all else checkpoint_in
            try:
                # asyncio.timeout, not wait_for: Python 3.11's wait_for swallows a cancellation that
                # arrives as the event is set, and the bot's stop would then wait for this loop forever.
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def _checkpoint_when_due(self) -> float | None:
        """Empty the store's WAL once a while after rows were settled.

        Returns the seconds until the next one is due (None: none).
        """
        if not self._settled_since_checkpoint:
            return None
        due_in = CHECKPOINT_EVERY_S - (time.monotonic() - self._last_checkpoint)
        if due_in > 0:
            return due_in
        await self.store.checkpoint()
        self._settled_since_checkpoint, self._last_checkpoint = False, time.monotonic()
        return None

    # -- the lanes -----------------------------------------------------------------------

    async def flush(self) -> bool:
        """Send what can go now, rooms in parallel; True when nothing is left.

        Rounds: every lane with rows is tried; a lane whose first row must wait (or was refused
        for now) sits out the rest of the round. A round that settled something is followed by
        another, with every lane tried again, as is a wake (rows queued, a sync that may let a
        waiting row go). The homeserver out of reach pauses every lane: what is in flight
        finishes, nothing new starts, and False is returned for the caller to retry later.
        """
        flying: dict[asyncio.Task[_Turn], _Lane] = {}
        waker: asyncio.Task[bool] | None = None
        offline = progressed = False
        await self._new_round()
        try:
            while True:
                if self._wake.is_set() and not offline:
                    self._wake.clear()
                    await self._new_round()
                while not offline and len(flying) < self.concurrency and self._ready:
                    lane = self._lanes.get(self._ready.popleft())
                    if lane is None or lane.busy or not lane.rows:
                        continue
                    lane.busy = True
                    flying[asyncio.create_task(self._turn(lane))] = lane
                self.most_in_flight = max(self.most_in_flight, len(flying))
                if not flying:
                    if progressed and not offline:
                        progressed = False
                        await self._new_round()
                        if self._ready:
                            continue
                    break
                if waker is None or waker.done():
                    waker = asyncio.create_task(self._wake.wait())
                done, _ = await asyncio.wait([*flying, waker], return_when=asyncio.FIRST_COMPLETED)
                for finished in done:
                    if finished is waker:
                        continue
                    task = cast("asyncio.Task[_Turn]", finished)
                    lane = flying.pop(task)
                    turn = task.result()
                    lane.busy = False
                    progressed = progressed or turn.progressed
                    if turn.outcome == OFFLINE:
                        offline = True
                    elif turn.outcome == GONE:
                        self._lanes.pop(lane.key, None)
                    elif turn.outcome == BLOCKED:
                        lane.blocked_on = turn.referent if turn.referent is not None else -1
                    elif turn.outcome == SENT and lane.rows:
                        self._ready.append(lane.key)  # to the back: every other lane's turn first
        finally:
            if waker is not None:
                waker.cancel()
            for task in flying:
                task.cancel()
            if flying:
                await asyncio.gather(*flying, return_exceptions=True)
                for lane in flying.values():
                    lane.busy = False
        if offline:
            return False
        empty = not self._more and not any(lane.rows for lane in self._lanes.values())
        if empty:
            self.idle.set()
        else:
            self.idle.clear()
        return empty

    async def _new_round(self) -> None:
        """Read what is to be sent again and give every lane a turn (forgetting what waited, what was held)."""
        self._held.clear()
        await self._read()
        ready = set(self._ready)
        for key, lane in self._lanes.items():
            lane.blocked_on = None
            if lane.rows and not lane.busy and key not in ready:
                self._ready.append(key)
        if any(lane.rows for lane in self._lanes.values()):
            self.idle.clear()

    async def _read(self) -> None:
        """The lanes from the outbox as it is now: rows settled or replaced meanwhile drop out,
        rows whose content changed (e.g. released from waiting for a newcomer) are taken as they are now."""
        async with self.store.read() as db:
            raw = await outbox.pending_raw(db, READ_LIMIT)
            rooms = {r["room_id"] for r in raw if r["room_id"].startswith(outbox.PLACEHOLDER)}
            rooms |= {key for key in self._lanes if key.startswith(outbox.PLACEHOLDER)}
            created = await outbox.results(db, {int(r[len(outbox.PLACEHOLDER) :]) for r in rooms}) if rooms else {}
        self._more = len(raw) >= READ_LIMIT
        parsed: dict[int, tuple[str, outbox.OutboxRow]] = {}
        grouped: dict[str, list[outbox.OutboxRow]] = {}
        for placeholder, lane in list(self._lanes.items()):  # a room created since: its lane is that room's now
            if placeholder.startswith(outbox.PLACEHOLDER):
                finished, value = created.get(int(placeholder[len(outbox.PLACEHOLDER) :]), (False, None))
                if finished and value:
                    del self._lanes[placeholder]
                    other = self._lanes.get(value)
                    if other is None or lane.busy:  # the busy one stands for the room (one request in flight)
                        lane.key = value
                        self._lanes[value] = lane
        for r in raw:
            if r["id"] in self._flying:
                continue
            cached = self._parsed.get(r["id"])
            if cached is not None and cached[0] == r["content"] and cached[1].attempts == r["attempts"]:
                row = cached[1]
            else:
                row = outbox.row_from(r)
            parsed[row.id] = (r["content"], row)
            key = row.room_id
            if key.startswith(outbox.PLACEHOLDER):
                finished, value = created.get(int(key[len(outbox.PLACEHOLDER) :]), (False, None))
                key = value if finished and value else key  # the room it is, once created
            grouped.setdefault(key, []).append(row)
        self._parsed = parsed
        for key in list(self._lanes):
            lane = self._lanes[key]
            lane.rows = grouped.pop(key, [])
            if not lane.rows and not lane.busy:
                del self._lanes[key]
        for key, rows in grouped.items():  # in order of their first row
            self._lanes[key] = _Lane(key, rows)

    def _settled(self, row: outbox.OutboxRow, lane: _Lane) -> None:
        """The row was sent or given up: out of its lane, and what waited for it may go."""
        lane.rows = [r for r in lane.rows if r.id != row.id]
        self._parsed.pop(row.id, None)
        for other in self._lanes.values():
            if other.blocked_on == row.id:
                other.blocked_on = None
                if other.rows and not other.busy:
                    self._ready.append(other.key)

    async def _turn(self, lane: _Lane) -> _Turn:
        """Send the lane's first row that can go (giving up on the way those that never can)."""
        progressed = False
        for row in list(lane.rows):
            if row.id in self._held:
                continue
            try:
                resolved = await self._resolve(row)
            except _Wait as wait:
                return _Turn(BLOCKED, progressed, wait.referent)
            except _NotJoinedYet:
                self._held.add(row.id)
                continue
            except _Abandon as abandon:
                await self._abandon(row, abandon.reason)
                self._settled(row, lane)
                progressed = True
                if row.kind == outbox.LEAVE:
                    return _Turn(GONE, True)
                continue
            self._flying.add(row.id)
            try:
                outcome = await self._send(row, *resolved)
            finally:
                self._flying.discard(row.id)
            if outcome is None:
                return _Turn(OFFLINE, progressed)
            if not outcome:
                return _Turn(BLOCKED, progressed)
            self._settled(row, lane)
            if row.kind == outbox.LEAVE:
                lane.rows = []  # gone: its later rows were given up with it
                return _Turn(GONE, True)
            return _Turn(SENT, True)
        return _Turn(IDLE, progressed)

    # -- preparing a row ---------------------------------------------------------------

    async def _resolve(self, row: outbox.OutboxRow) -> tuple[str, dict[str, Any]]:
        """The row's room and content with references filled in; _Wait or _Abandon otherwise."""
        wanted: set[int] = set()
        _collect_refs(row.room_id, wanted)
        _collect_refs(row.content, wanted)
        found: dict[int, tuple[bool, str | None]] = {}
        if wanted:  # most rows (answers) refer to nothing: no second read before their send
            async with self.store.read() as db:
                found = await outbox.results(db, wanted)
        values: dict[str, str] = {}
        for ref_id in wanted:
            finished, value = found.get(ref_id, (True, None))
            if not finished and ref_id in self._held:
                # e.g. the pin of a checklist held for a newcomer: the room's answers need not wait
                raise _NotJoinedYet()
            if not finished:
                raise _Wait(ref_id)
            if value is None:
                raise _Abandon()
            values[outbox.ref(ref_id)] = value
        room_id = _fill(row.room_id, values)
        content = _fill(row.content, values)
        if row.kind in (outbox.EVENT, outbox.FILE):
            room_kind = row.room_kind
            if room_id != row.room_id:  # a room created by an earlier row: its kind was not known when read
                async with self.store.read() as db:
                    info = await room_info(db, room_id)
                room_kind = info.kind if info else None
            room = self.client.rooms.get(room_id)
            if room is None:
                raise _Wait()  # joined or created a moment ago: nio learns the room from the next sync
            if room.encrypted and not self.encryption:
                # nio without encryption would send the content (and a file's keys) in clear text.
                raise _Abandon(NEVER_IN_CLEAR)
            care_room = room_kind == "case"
            if care_room and not room.encrypted:
                raise _Wait()  # never send clear text into a care room, even before its state is synced
            only_for = content.pop("homeward.private_to", None)  # a worklist: for this one person's eyes
            encrypted_only = content.pop("encrypted_only", False)
            if self.encryption and encrypted_only and not room.encrypted:
                if only_for:
                    await self._forget_direct_room(room_id)
                raise _Abandon("the room is not encrypted")  # e.g. statistics asked for in a plain direct chat
            if only_for and not _private(room, only_for, self.client.user_id):
                # A worklist is for one person: never into a chat someone else has joined or was invited to.
                await self._forget_direct_room(room_id)
                raise _Abandon("private: the direct chat holds someone else, or the person left it")
            waiting_for = content.pop("homeward.after_join", None)
            if waiting_for and (waiting_for not in room.users or waiting_for in room.invited_users):
                # Sent before they join, they could not decrypt it (nio shares the room key with joined devices).
                self._joined.pop((room_id, waiting_for), None)  # a later join settles anew
                raise _NotJoinedYet()
            if waiting_for and self._settling(room_id, waiting_for):
                raise _NotJoinedYet()  # and give their client time to learn the bot's keys (JOIN_SETTLE_S)
            if care_room and self._invite_not_synced(room_id, room.users):
                # The history an invitee may read starts at the invite, but nio shares the room key
                # only with members it knows: wait for the sync that brings the invite.
                raise _Wait()
            if care_room and len(room.users) < 2:
                # A room just created: nio does not know the invited coordinator yet and would
                # encrypt the first messages for the bot alone. Wait for the sync that brings the invite.
                raise _Wait()
        return room_id, content

    def _settling(self, room_id: str, user_id: str) -> bool:
        """Whether `user_id` joined less than JOIN_SETTLE_S ago; if so, the sender wakes when the time is up."""
        now = time.monotonic()
        since = self._joined.setdefault((room_id, user_id), now)
        left = since + JOIN_SETTLE_S - now
        if left <= 0:
            return False
        asyncio.get_running_loop().call_later(left, self.wake)
        return True

    def _invite_not_synced(self, room_id: str, known: dict[str, Any]) -> bool:
        """Whether someone we invited in this room is not yet a member to nio (for a while at most)."""
        invited = self._invited.get(room_id, {})
        for user, since in list(invited.items()):
            if user in known or time.monotonic() - since > INVITE_SYNC_WAIT_S:
                del invited[user]
        return bool(invited)

    # -- sending -------------------------------------------------------------------------

    async def _send(self, row: outbox.OutboxRow, room_id: str, content: dict[str, Any]) -> bool | None:
        """True: done. False: refused for now (retry later). None: homeserver unreachable, or this process
        may not send (it lost the lease, or has too little of it left)."""
        if not self.may_send():
            log.warning("outbox=%d not sent: this process does not hold the lease with time to spare", row.id)
            return None
        if self.sent_before is not None and self.sent_before.suspect(row) and row.kind in (outbox.EVENT, outbox.FILE):
            already = await self.sent_before.event_of(row, room_id)
            if already is not None:
                async with self.store.transaction() as db:
                    await outbox.mark_sent(db, row.id, already, self.clock.now())
                return True
        if self.mark_rows and row.kind == outbox.EVENT:
            content = {**content, outbox.MARKER_KEY: row.marker}
        try:
            try:
                async with asyncio.timeout(self.time_left()):  # never still sending once the lease can be taken
                    response, result = await self._request(row, room_id, content)
            except (KeyError, RuntimeError) as exc:
                # nio's group-session sharing races with membership changes seen by the sync
                # loop (the session is invalidated mid-share). The transaction id makes a
                # second try safe; a fresh session is made for it.
                log.warning("room=%s outbox=%d retrying after a local %s", room_id, row.id, type(exc).__name__)
                await asyncio.sleep(0.2)
                response, result = await self._request(row, room_id, content)
        except CONNECTION_ERRORS as exc:
            async with self.store.transaction() as db:
                await outbox.mark_failed(db, row.id, type(exc).__name__)
            log.warning("room=%s outbox=%d homeserver unreachable; will retry", room_id, row.id)
            return None
        except (LocalProtocolError, KeyError, RuntimeError) as exc:
            async with self.store.transaction() as db:
                await outbox.mark_failed(db, row.id, type(exc).__name__)
            log.warning("room=%s outbox=%d not sendable yet (%s); will retry", room_id, row.id, type(exc).__name__)
            return False
        if result is not None:
            self._settled_since_checkpoint = True
            async with self.store.transaction() as db:
                await outbox.mark_sent(db, row.id, result, self.clock.now())
                if row.kind == outbox.LEAVE:
                    await outbox.forget_room(db, room_id, self.clock.now())
                if row.kind == outbox.CREATE_ROOM:
                    await bind_room(db, row.id, result)
                    await remember_room(db, result, "case", content.get("homeward.language", "en"), self.clock.now())
            if row.kind == outbox.INVITE:
                self._invited.setdefault(room_id, {})[content["user_id"]] = time.monotonic()
            log.info(
                "room=%s outbox=%d %s done", room_id if row.kind != outbox.CREATE_ROOM else result, row.id, row.kind
            )
            return True
        code = getattr(response, "status_code", None) or "unknown"
        message = getattr(response, "message", "") or ""
        if row.kind == outbox.INVITE and code == "M_FORBIDDEN" and "already" in message:
            async with self.store.transaction() as db:
                await outbox.mark_sent(db, row.id, "", self.clock.now())
            return True
        if code in PERMANENT or row.attempts + 1 >= MAX_ATTEMPTS:
            await self._abandon(row, f"{code}: {message}")
            return True
        async with self.store.transaction() as db:
            await outbox.mark_failed(db, row.id, str(code))
        log.warning("room=%s outbox=%d refused (%s); will retry", room_id, row.id, code)
        return False

    async def _request(self, row: outbox.OutboxRow, room_id: str, content: dict[str, Any]) -> tuple[Any, str | None]:
        """Make the homeserver request of the row; (response, event or room id if it succeeded)."""
        client = self.client
        if row.kind == outbox.EVENT:
            response = await self._room_send(room_id, row.event_type, content, row.txn_id)
            return response, response.event_id if isinstance(response, RoomSendResponse) else None
        if row.kind == outbox.STATE:
            response = await client.room_put_state(
                room_id, row.event_type, content["content"], state_key=content.get("state_key", "")
            )
            return response, response.event_id if isinstance(response, RoomPutStateResponse) else None
        if row.kind == outbox.INVITE:
            response = await client.room_invite(room_id, content["user_id"])
            return response, "" if isinstance(response, RoomInviteResponse) else None
        if row.kind == outbox.KICK:
            response = await client.room_kick(room_id, content["user_id"], reason=content.get("reason"))
            return response, "" if isinstance(response, RoomKickResponse) else None
        if row.kind == outbox.LEAVE:
            response = await client.room_leave(room_id)
            return response, "" if isinstance(response, RoomLeaveResponse) else None
        if row.kind == outbox.CREATE_ROOM:
            return await self._create_room(row, content)
        if row.kind == outbox.FILE:
            return await self._send_file(row, room_id, content)
        raise ValueError(f"unknown outbox kind {row.kind!r}")

    async def _upload(
        self, data: bytes, mimetype: str, filename: str, encrypted: bool
    ) -> tuple[Any, str | None, dict[str, Any] | None]:
        """Upload bytes (encrypted as an attachment when the room is): (response, mxc URI or None, decryption keys)."""
        # nio calls the provider again after a timeout or a 429; it must return bytes (a str is read as a path).
        # No filename: nio would put it in the upload request's URL, in clear text for the homeserver to keep
        # (the media repository's upload name). The name goes only into the event, encrypted.
        del filename
        upload, keys = await self.client.upload(
            lambda *_: data,
            content_type=mimetype,
            filename=None,
            encrypt=encrypted,
            filesize=len(data),  # Synapse refuses an upload without Content-Length
        )
        if not isinstance(upload, UploadResponse):
            return upload, None, None
        return upload, upload.content_uri, keys if encrypted else None

    async def _send_file(self, row: outbox.OutboxRow, room_id: str, content: dict[str, Any]) -> tuple[Any, str | None]:
        """Upload the row's bytes (and an image's thumbnail), then post them as m.file / m.image.

        The event is sent with the row's transaction id.
        """
        room = self.client.rooms.get(room_id)
        encrypted = room is not None and room.encrypted
        thumbnail: tuple[str, dict[str, Any] | None] | None = None
        if content.get("thumbnail_b64"):
            small = base64.b64decode(content["thumbnail_b64"])
            response, mxc, keys = await self._upload(
                small, content["thumbnail_info"]["mimetype"], "thumbnail-" + content["filename"], encrypted
            )
            if mxc is None:
                return response, None
            thumbnail = (mxc, keys)
        data = base64.b64decode(content["data_b64"])
        upload, mxc, keys = await self._upload(data, content["mimetype"], content["filename"], encrypted)
        if mxc is None:
            return upload, None
        message = file_message(content, mxc, len(data), keys, thumbnail)
        if self.mark_rows:
            message[outbox.MARKER_KEY] = row.marker
        response = await self._room_send(room_id, "m.room.message", message, row.txn_id)
        return response, response.event_id if isinstance(response, RoomSendResponse) else None

    async def _room_send(self, room_id: str, event_type: str, content: dict[str, Any], txn_id: str) -> Any:
        """One room event, encrypted when the room is, its room key only for the devices the bot trusts
        (`room_keys`, bot/devices.py): beside the other lanes' sends, never beside a sync.

        A send that must ask for device keys first goes alone, apart from every other (a key query
        changes which devices get a room key), and so does a refusal let through to one device the
        bot does not trust (no other room's key may reach that device meanwhile).
        """
        client = self.client
        if client.olm and keys_due(client, room_id, content):
            async with self._keys_query, self.crypto_lock, room_keys(client, room_id, content, alone=True):
                return await client.room_send(
                    room_id, event_type, content, tx_id=txn_id, ignore_unverified_devices=True
                )
        async with self._sending(), room_keys(client, room_id, content, alone=False):
            return await client.room_send(room_id, event_type, content, tx_id=txn_id, ignore_unverified_devices=True)

    def _sending(self) -> AbstractAsyncContextManager[Any]:
        """The side of the crypto lock a send holds: shared with other sends (a plain lock: alone)."""
        shared = getattr(self.crypto_lock, "shared", None)
        return shared() if shared is not None else self.crypto_lock

    async def _create_room(self, row: outbox.OutboxRow, content: dict[str, Any]) -> tuple[Any, str | None]:
        key = content["case_key"]
        if row.attempts > 0:
            existing = await self._room_with_case_key(key)
            if existing:
                log.info("outbox=%d found the room an interrupted attempt created", row.id)
                return None, existing
        async with self.store.transaction() as db:
            await outbox.count_attempt(db, row.id)
        request = content["request"]
        response = await self.client.room_create(
            visibility=RoomVisibility.private,
            name=request["name"],
            topic=request["topic"],
            room_version=request["room_version"],
            preset=RoomPreset(request["preset"]),
            invite=request["invite"],
            initial_state=[
                *request["initial_state"],
                {"type": CASE_KEY_STATE, "state_key": "", "content": {"key": key}},
            ],
            power_level_override=request["power_level_content_override"],
        )
        return response, response.room_id if isinstance(response, RoomCreateResponse) else None

    async def _room_with_case_key(self, key: str) -> str | None:
        response = await self.client.joined_rooms()
        for room_id in getattr(response, "rooms", []):
            state = await self.client.room_get_state_event(room_id, CASE_KEY_STATE)
            if isinstance(state, RoomGetStateEventResponse) and state.content.get("key") == key:
                return room_id
        return None

    async def _forget_direct_room(self, room_id: str) -> None:
        """The chat can carry no worklist (not private, not encrypted): nothing more is scheduled into it."""
        async with self.store.transaction() as db:
            await forget_direct_room(db, room_id)

    async def _abandon(self, row: outbox.OutboxRow, reason: str) -> None:
        self._settled_since_checkpoint = True  # its content is cleared too
        async with self.store.transaction() as db:
            await outbox.mark_abandoned(db, row.id, reason, self.clock.now())
            if row.kind == outbox.LEAVE:  # e.g. removed from the room before it could leave: gone all the same
                await outbox.forget_room(db, row.room_id, self.clock.now())
        log.error(
            "room=%s outbox=%d (%s) cannot be delivered: %s; given up",
            row.room_id,
            row.id,
            row.kind,
            reason.split(":")[0],
        )


def file_message(
    content: dict[str, Any],
    mxc: str,
    size: int,
    keys: dict[str, Any] | None,
    thumbnail: tuple[str, dict[str, Any] | None] | None = None,
) -> dict[str, Any]:
    """The m.file (or m.image) event of a FILE row uploaded to `mxc`; `keys` (nio's decryption info) when encrypted.

    Encrypted: the mxc URI goes inside the `file` object with the key, iv and hash (spec,
    "Sending encrypted attachments"), never as a top-level `url`; an image's thumbnail the
    same way, as `info.thumbnail_file` (else `info.thumbnail_url`), with `info.thumbnail_info`.
    """
    info = {**content.get("info", {}), "mimetype": content["mimetype"], "size": size}
    if thumbnail is not None:
        thumb_mxc, thumb_keys = thumbnail
        info["thumbnail_info"] = dict(content["thumbnail_info"])
        if thumb_keys is not None:
            info["thumbnail_file"] = {**thumb_keys, "url": thumb_mxc}
        else:
            info["thumbnail_url"] = thumb_mxc
    message: dict[str, Any] = {
        "msgtype": content.get("msgtype", "m.file"),
        "body": content.get("body") or content["filename"],
        "filename": content["filename"],
        "info": info,
    }
    if keys is not None:
        message["file"] = {**keys, "url": mxc}
    else:
        message["url"] = mxc
    message.update({key: value for key, value in content.items() if key.startswith("homeward.")})
    return message


def _private(room: Any, user_id: str, bot_id: str) -> bool:
    """Whether nio's room holds the person (joined) and nobody else but the bot, joined or invited."""
    people = set(room.users) | set(getattr(room, "invited_users", {}))
    return user_id in room.users and user_id not in getattr(room, "invited_users", {}) and people <= {user_id, bot_id}


def _collect_refs(value: Any, found: set[int]) -> None:
    if isinstance(value, str):
        if value.startswith(outbox.PLACEHOLDER):
            found.add(int(value[len(outbox.PLACEHOLDER) :]))
    elif isinstance(value, dict):
        for item in value.values():
            _collect_refs(item, found)
    elif isinstance(value, list):
        for item in value:
            _collect_refs(item, found)


def _fill(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        return values.get(value, value)
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    return value
