"""The outbox sender works rooms in parallel and in turn, and keeps every guarantee of the one-at-a-time sender.

A fake homeserver stands in for Synapse (the real one: tests/integration/test_parallel_sending.py):
it takes requests after a random delay, drops a resend with a transaction id it has seen (as
Synapse does), refuses some requests for now, and loses the connection on others, sometimes
after it has taken the event (the answer is lost, not the event). Rooms it creates become known
to the client a moment later, as with a sync. The sender is stopped (cancelled) at random
moments and a new one carries on with the same store, as after a crash.

Checked for every seed: each row reached its room exactly once, each room's events arrived in
the order of their rows, never two requests in flight for one room, never more than the setting
in flight at all, and a reference reached the homeserver as the event id of its referent.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import ClientConnectionError
from nio import (
    ErrorResponse,
    RoomCreateResponse,
    RoomGetStateEventResponse,
    RoomInviteResponse,
    RoomLeaveResponse,
    RoomPutStateResponse,
    RoomSendResponse,
)

from homeward.bot import sender as sender_module
from homeward.bot.client import CryptoLock
from homeward.bot.sender import OutboxSender
from homeward.store import outbox
from homeward.store.db import Store
from homeward.store.state import remember_room
from tests.clock import FakeClock

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
BOT, NURSE = "@bot:x", "@nurse:x"


class Refused(ErrorResponse):
    """A refusal for now (not in the sender's PERMANENT set): it tries again."""

    def __init__(self) -> None:
        super().__init__("busy", "M_BUSY_FOR_NOW")


class FakeHomeserver:
    """What the sender asks of nio, answered the way Synapse would, with faults on a seed."""

    def __init__(self, rng: random.Random, faults: bool = True, delay: float = 0.004) -> None:
        self.rng = rng
        self.faults = faults
        self.delay = delay
        self.user_id = BOT
        self.olm = None
        self.rooms: dict[str, Any] = {}
        self.timeline: dict[str, list[tuple[str, dict[str, Any]]]] = {}  # room -> (txn id, content) in order taken
        self.by_txn: dict[str, str] = {}  # txn id -> event id
        self.created: dict[str, str] = {}  # case key -> room id
        self.in_flight: dict[str, int] = {}
        self.most_in_flight = 0
        self.sender: OutboxSender | None = None
        self._events = 0

    def add_room(self, room_id: str) -> None:
        self.rooms[room_id] = SimpleNamespace(
            room_id=room_id, users={BOT: object(), NURSE: object()}, invited_users={}, encrypted=True
        )
        self.timeline.setdefault(room_id, [])

    async def _request(self, room_id: str) -> None:
        self.in_flight[room_id] = self.in_flight.get(room_id, 0) + 1
        assert self.in_flight[room_id] == 1, f"two requests in flight for {room_id}"
        self.most_in_flight = max(self.most_in_flight, sum(self.in_flight.values()))
        try:
            await asyncio.sleep(self.rng.uniform(0, self.delay))
            if self.faults and self.rng.random() < 0.05:
                raise ClientConnectionError("connection reset before the homeserver saw it")
        finally:
            self.in_flight[room_id] -= 1

    def _lost_answer(self) -> None:
        if self.faults and self.rng.random() < 0.05:
            raise ClientConnectionError("connection reset after the homeserver took it")

    async def room_send(self, room_id: str, event_type: str, content: dict[str, Any], tx_id: str, **_: Any) -> Any:
        await self._request(room_id)
        if self.faults and self.rng.random() < 0.05:
            return Refused()
        if tx_id not in self.by_txn:
            self._events += 1
            self.by_txn[tx_id] = f"$event{self._events}"
            self.timeline[room_id].append((tx_id, content))
        self._lost_answer()
        return RoomSendResponse.from_dict({"event_id": self.by_txn[tx_id]}, room_id)

    async def room_put_state(self, room_id: str, event_type: str, content: dict[str, Any], state_key: str = "") -> Any:
        await self._request(room_id)
        self._events += 1
        self.timeline[room_id].append(("state", content))
        return RoomPutStateResponse.from_dict({"event_id": f"$state{self._events}"}, room_id)

    async def room_invite(self, room_id: str, user_id: str) -> Any:
        await self._request(room_id)
        self.timeline[room_id].append(("invite", {"user_id": user_id}))
        return RoomInviteResponse()

    async def room_leave(self, room_id: str) -> Any:
        await self._request(room_id)
        self.timeline[room_id].append(("leave", {}))
        return RoomLeaveResponse()

    async def room_create(self, **request: Any) -> Any:
        key = next(s["content"]["key"] for s in request["initial_state"] if s["type"] == sender_module.CASE_KEY_STATE)
        await self._request(f"create {key}")
        room_id = f"!created{len(self.created) + 1}:x"
        self.created[key] = room_id
        self.timeline[room_id] = []
        asyncio.get_running_loop().call_later(self.rng.uniform(0, 0.02), self._synced, room_id)
        self._lost_answer()
        return RoomCreateResponse.from_dict({"room_id": room_id})

    def _synced(self, room_id: str) -> None:
        """The sync that brings a created room to the client."""
        self.add_room(room_id)
        if self.sender:
            self.sender.wake()

    async def joined_rooms(self) -> Any:
        return SimpleNamespace(rooms=list(self.created.values()))

    async def room_get_state_event(self, room_id: str, event_type: str) -> Any:
        key = next(k for k, r in self.created.items() if r == room_id)
        return RoomGetStateEventResponse.from_dict({"key": key}, event_type, "", room_id)


async def _queue(store: Store, rng: random.Random, rooms: int) -> dict[int, tuple[str, str]]:
    """Rows in `rooms` rooms, interleaved: messages, checklists with their edits and pins, a created
    room with its state, invite and first messages, a leave with a message queued after it.
    What each row is: id -> (kind of check, label)."""
    made: dict[int, tuple[str, str]] = {}
    checklists: dict[str, int] = {}
    async with store.transaction() as db:
        for n in range(rooms):
            await remember_room(db, f"!room{n}:x", "other", "en", NOW)
        for step in range(rooms * 12):
            room = f"!room{rng.randrange(rooms)}:x"
            roll = rng.random()
            if roll < 0.1 or room not in checklists:
                row = await outbox.enqueue(db, room, "m.room.message", {"body": f"checklist {step}"}, NOW)
                checklists[room] = row
                pin = {"content": {"pinned": [outbox.ref(row)]}}
                made[row] = ("message", room)
                made[await outbox.enqueue(db, room, "m.room.pinned_events", pin, NOW, kind=outbox.STATE)] = (
                    "state",
                    room,
                )
            elif roll < 0.3:
                relation = {"rel_type": "m.replace", "event_id": outbox.ref(checklists[room])}
                edit = {"body": f"* edit {step}", "m.relates_to": relation}
                made[await outbox.enqueue(db, room, "m.room.message", edit, NOW)] = ("edit", room)
            elif roll < 0.33:
                request = {
                    "name": "case",
                    "topic": "",
                    "room_version": "10",
                    "preset": "private_chat",
                    "invite": [NURSE],
                    "initial_state": [],
                    "power_level_content_override": {},
                }
                create = await outbox.enqueue(
                    db,
                    room,
                    "m.room.create",
                    {"request": request, "case_key": f"key{step}"},
                    NOW,
                    kind=outbox.CREATE_ROOM,
                )
                made[create] = ("create", room)
                new_room = outbox.ref(create)
                state = {"content": {"name": "x"}}
                made[await outbox.enqueue(db, new_room, "m.room.name", state, NOW, kind=outbox.STATE)] = (
                    "state",
                    new_room,
                )
                first = await outbox.enqueue(db, new_room, "m.room.message", {"body": f"welcome {step}"}, NOW)
                made[first] = ("message", new_room)
                invite = {"user_id": f"@guest{step}:x"}
                made[await outbox.enqueue(db, new_room, "m.room.member", invite, NOW, kind=outbox.INVITE)] = (
                    "invite",
                    new_room,
                )
                made[await outbox.enqueue(db, room, "m.room.message", {"body": f"answer {step}"}, NOW)] = (
                    "message",
                    room,
                )
            else:
                made[await outbox.enqueue(db, room, "m.room.message", {"body": f"answer {step}"}, NOW)] = (
                    "message",
                    room,
                )
        # One room is left for good; a message queued after the leave is given up with the room.
        gone = f"!room{rooms - 1}:x"
        made[await outbox.enqueue(db, gone, "m.room.member", {}, NOW, kind=outbox.LEAVE)] = ("leave", gone)
        made[await outbox.enqueue(db, gone, "m.room.message", {"body": "too late"}, NOW)] = ("after-leave", gone)
    return made


async def _drain(store: Store, server: FakeHomeserver, rng: random.Random, concurrency: int, crashes: int) -> None:
    """Run senders until the outbox is empty, killing `crashes` of them at random moments."""
    for attempt in range(crashes + 200):
        sender = OutboxSender(server, store, FakeClock(NOW), CryptoLock(), concurrency=concurrency)
        server.sender = sender
        task = asyncio.create_task(sender.run())
        if attempt < crashes:
            await asyncio.sleep(rng.uniform(0.005, 0.08))
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            continue
        for _ in range(400):
            await asyncio.sleep(0.02)
            if task.done():
                task.result()  # the sender stopped with an error: show it
            async with store.read() as db:
                if not await outbox.pending(db, 1):
                    break
            sender.wake()  # what a sync would do now and then
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        async with store.read() as db:
            if not await outbox.pending(db, 1):
                return
    raise AssertionError("the outbox never drained")


@pytest.mark.parametrize("seed", range(12))
async def test_rooms_go_in_parallel_each_in_order_exactly_once_across_crashes(
    tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sender_module, "RETRY_S", 0.05)
    monkeypatch.setattr(sender_module, "INVITE_SYNC_WAIT_S", 0.0)
    rng = random.Random(seed)
    store = await Store.open(tmp_path / "s.sqlite3")
    server = FakeHomeserver(rng)
    for n in range(8):
        server.add_room(f"!room{n}:x")
    made = await _queue(store, rng, rooms=8)
    concurrency = rng.choice([2, 4, 8])

    await _drain(store, server, rng, concurrency, crashes=rng.randrange(1, 4))

    async with store.read() as db, db.execute("SELECT id, room_id, event_id, last_error FROM outbox") as cur:
        rows = {r["id"]: r for r in await cur.fetchall()}
    await store.close()
    delivered = dict(server.by_txn)
    # Exactly once: every message row reached the homeserver once (a resend with its id was dropped).
    for row_id, (kind, _room) in made.items():
        if kind in ("message", "edit"):
            assert f"homeward-{row_id}" in delivered, (row_id, rows[row_id]["last_error"])
            assert rows[row_id]["event_id"] == delivered[f"homeward-{row_id}"]
    sends = [tx for events in server.timeline.values() for tx, _ in events if tx.startswith("homeward-")]
    assert len(sends) == len(set(sends))
    assert len(server.created) == sum(kind == "create" for kind, _ in made.values())  # no room made twice
    # Each room in order: its events arrived in the order of their rows.
    for room, events in server.timeline.items():
        ids = [int(tx.split("-")[1]) for tx, _ in events if tx.startswith("homeward-")]
        assert ids == sorted(ids), room
    # References reached the homeserver as the event id of the row they name, sent before them.
    for events in server.timeline.values():
        seen: set[str] = set()
        for tx, content in events:
            target = (content.get("m.relates_to") or {}).get("event_id")
            if target is not None:
                assert target in seen, "an edit went before its original (or with a placeholder)"
            if tx.startswith("homeward-"):
                seen.add(server.by_txn[tx])
    # The room left for good: its later row was given up, not sent, and keeps no content.
    after_leave = next(row_id for row_id, (kind, _) in made.items() if kind == "after-leave")
    assert f"homeward-{after_leave}" not in delivered
    assert rows[after_leave]["last_error"] == "the bot left the room"
    assert server.most_in_flight <= concurrency


async def test_several_rooms_are_in_flight_at_once_and_never_more_than_the_setting(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.sqlite3")
    server = FakeHomeserver(random.Random(1), faults=False, delay=0.02)
    async with store.transaction() as db:
        for n in range(20):
            server.add_room(f"!room{n}:x")
            await remember_room(db, f"!room{n}:x", "other", "en", NOW)
            await outbox.enqueue(db, f"!room{n}:x", "m.room.message", {"body": "reminder"}, NOW)
    sender = OutboxSender(server, store, FakeClock(NOW), CryptoLock(), concurrency=6)

    assert await sender.flush() is True

    assert server.most_in_flight == 6 == sender.most_in_flight
    assert sum(len(events) for events in server.timeline.values()) == 20
    await store.close()


async def test_one_rooms_backlog_does_not_delay_another_rooms_next_event(tmp_path: Path) -> None:
    """Round-robin: a room with 30 answers queued, then one answer for another room; one request at a time."""
    store = await Store.open(tmp_path / "s.sqlite3")
    server = FakeHomeserver(random.Random(2), faults=False, delay=0.0)
    order: list[str] = []
    send = server.room_send

    async def recording(room_id: str, *args: Any, **kwargs: Any) -> Any:
        order.append(room_id)
        return await send(room_id, *args, **kwargs)

    server.room_send = recording  # type: ignore[method-assign]
    async with store.transaction() as db:
        for room in ("!flood:x", "!ping:x"):
            server.add_room(room)
            await remember_room(db, room, "other", "en", NOW)
        for n in range(30):
            await outbox.enqueue(db, "!flood:x", "m.room.message", {"body": f"team {n}"}, NOW)
        await outbox.enqueue(db, "!ping:x", "m.room.message", {"body": "pong"}, NOW)
    sender = OutboxSender(server, store, FakeClock(NOW), CryptoLock(), concurrency=1)

    await sender.flush()

    assert order.index("!ping:x") == 1  # right after the flood room's first, not after its thirtieth
    await store.close()


async def test_an_answer_queued_while_a_backlog_drains_goes_out_without_waiting_for_it(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.sqlite3")
    server = FakeHomeserver(random.Random(3), faults=False, delay=0.01)
    async with store.transaction() as db:
        for room in ("!flood:x", "!ping:x"):
            server.add_room(room)
            await remember_room(db, room, "other", "en", NOW)
        for n in range(40):
            await outbox.enqueue(db, "!flood:x", "m.room.message", {"body": f"team {n}"}, NOW)
    sender = OutboxSender(server, store, FakeClock(NOW), CryptoLock(), concurrency=2)
    task = asyncio.create_task(sender.run())
    await asyncio.sleep(0.05)
    async with store.transaction() as db:
        await outbox.enqueue(db, "!ping:x", "m.room.message", {"body": "pong"}, NOW)
    sender.wake()  # as the dispatcher does after its commit
    for _ in range(100):
        if server.timeline["!ping:x"]:
            break
        await asyncio.sleep(0.005)

    assert server.timeline["!ping:x"] and len(server.timeline["!flood:x"]) < 30
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await store.close()


async def test_sends_share_the_crypto_lock_with_each_other_but_never_with_a_sync(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.sqlite3")
    server = FakeHomeserver(random.Random(4), faults=False, delay=0.03)
    lock = CryptoLock()
    sharing: list[int] = []
    during_sync: list[int] = []
    send = server.room_send

    async def watched(*args: Any, **kwargs: Any) -> Any:
        sharing.append(lock.sharing)
        return await send(*args, **kwargs)

    server.room_send = watched  # type: ignore[method-assign]
    async with store.transaction() as db:
        for n in range(12):
            server.add_room(f"!room{n}:x")
            await remember_room(db, f"!room{n}:x", "other", "en", NOW)
            await outbox.enqueue(db, f"!room{n}:x", "m.room.message", {"body": "reminder"}, NOW)
    sender = OutboxSender(server, store, FakeClock(NOW), lock, concurrency=4)

    async def sync_handling() -> None:
        for _ in range(5):
            await asyncio.sleep(0.01)
            async with lock:  # what HomewardClient.receive_response does with a sync response
                during_sync.append(lock.sharing)
                await asyncio.sleep(0.005)

    await asyncio.gather(sender.flush(), sync_handling())

    assert max(sharing) > 1  # sends overlapped
    assert during_sync == [0] * 5  # no send was in its shared section while a sync was handled
    await store.close()
