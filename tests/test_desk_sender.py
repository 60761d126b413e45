"""A worklist is for one person: the outbox sender never posts it into a chat someone else is in.

The sender reads the chat's members from the client's view of the room when it sends (here a
stand-in for nio's); a worklist row for a chat that is no longer private is given up, and
the chat is no longer used for worklists. A private one goes out.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from nio import RoomLeaveResponse, RoomSendResponse

from homeward.bot.sender import OutboxSender
from homeward.store import outbox
from homeward.store import people as people_rows
from homeward.store.db import Store
from homeward.store.state import remember_room
from tests.clock import FakeClock

#: Every test here runs on SQLite and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("each_engine")

NOW = datetime(2026, 12, 2, 6, 30, tzinfo=UTC)
BOT, ANNA, OTHER, DM = "@bot:x", "@anna:x", "@other:x", "!dm:x"


class Client:
    """What the sender asks of nio: the rooms it knows, and sending."""

    def __init__(self, users: dict[str, Any], invited: dict[str, Any] | None = None, encrypted: bool = True) -> None:
        self.user_id = BOT
        self.olm = None
        self.rooms = {DM: SimpleNamespace(users=users, invited_users=invited or {}, encrypted=encrypted)}
        self.sent: list[dict[str, Any]] = []
        self.left: list[str] = []

    async def room_leave(self, room_id: str) -> RoomLeaveResponse:
        self.left.append(room_id)
        return RoomLeaveResponse()

    async def room_send(
        self, room_id: str, event_type: str, content: dict[str, Any], tx_id: str, **_: Any
    ) -> RoomSendResponse:
        self.sent.append(content)
        return RoomSendResponse.from_dict({"event_id": f"$sent{len(self.sent)}"}, room_id)


async def _worklist_for_anna(path: Path) -> Store:
    store = await Store.open(path)
    async with store.transaction() as db:
        await remember_room(db, DM, "direct", "en", NOW)
        await people_rows.record_direct_room(db, ANNA, DM, NOW)
        await outbox.enqueue(
            db,
            DM,
            "m.room.message",
            {"msgtype": "m.notice", "body": "worklist", "homeward.private_to": ANNA, "encrypted_only": True},
            NOW,
        )
    return store


async def _send(store: Store, client: Client) -> tuple[str | None, str | None]:
    sender = OutboxSender(client, store, FakeClock(NOW), asyncio.Lock())
    await sender.flush()
    async with store.read() as db, db.execute("SELECT event_id, last_error FROM outbox") as cur:
        row = await cur.fetchone()
    assert row is not None
    return row["event_id"], row["last_error"]


async def test_a_worklist_goes_into_a_chat_of_the_person_and_the_bot_alone(tmp_path: Path) -> None:
    store = await _worklist_for_anna(tmp_path / "s.sqlite3")
    client = Client({ANNA: object(), BOT: object()})

    event_id, _ = await _send(store, client)

    assert event_id == "$sent1"
    assert (
        "homeward.private_to" not in client.sent[0] and "encrypted_only" not in client.sent[0]
    )  # checks, not the message
    await store.close()


async def test_a_worklist_is_not_sent_into_a_chat_someone_else_joined_and_the_chat_is_forgotten(tmp_path: Path) -> None:
    store = await _worklist_for_anna(tmp_path / "s.sqlite3")
    client = Client({ANNA: object(), BOT: object(), OTHER: object()})

    event_id, error = await _send(store, client)

    assert client.sent == [] and event_id is None and error is not None and error.startswith("private")
    async with store.read() as db:
        assert (await people_rows.person(db, ANNA)).direct_room is None
    await store.close()


async def test_nor_into_one_someone_was_invited_to_or_the_person_left(tmp_path: Path) -> None:
    for users, invited in (({ANNA: 1, BOT: 1, OTHER: 1}, {OTHER: 1}), ({BOT: 1}, {})):
        store = await _worklist_for_anna(tmp_path / f"s{len(users)}.sqlite3")
        client = Client(users, invited)

        await _send(store, client)

        assert client.sent == []
        await store.close()


async def test_nor_into_a_chat_of_theirs_alone_that_is_not_encrypted_and_the_chat_is_forgotten(tmp_path: Path) -> None:
    store = await _worklist_for_anna(tmp_path / "s.sqlite3")
    client = Client({ANNA: object(), BOT: object()}, encrypted=False)

    event_id, error = await _send(store, client)

    assert client.sent == [] and event_id is None and error == "the room is not encrypted"
    async with store.read() as db:
        assert (await people_rows.person(db, ANNA)).direct_room is None
        async with db.execute("SELECT content FROM outbox") as cur:
            row = await cur.fetchone()
        assert row is not None and row["content"] == "{}"  # given up, and nothing of it kept
    await store.close()


async def test_after_leaving_a_room_nothing_waits_for_it_and_no_row_of_it_keeps_content(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.sqlite3")
    async with store.transaction() as db:
        await remember_room(db, DM, "direct", "en", NOW)
        sent = await outbox.enqueue(
            db, DM, "m.room.message", {"msgtype": "m.notice", "body": "the last export follows"}, NOW
        )
        await outbox.mark_sent(db, sent, "$old", NOW)
        await outbox.enqueue(db, DM, "m.room.member", {"reason": "retention"}, NOW, kind=outbox.LEAVE)
        late = await outbox.enqueue(
            db, DM, "m.room.message", {"msgtype": "m.notice", "body": "queued after the leave"}, NOW
        )
    client = Client({ANNA: object(), BOT: object()})

    sender = OutboxSender(client, store, FakeClock(NOW), asyncio.Lock())
    assert await sender.flush() is True

    assert client.left == [DM] and client.sent == []
    async with (
        store.read() as db,
        db.execute("SELECT id, content, content_size, event_id, last_error, sent_at FROM outbox ORDER BY id") as cur,
    ):
        rows = {r["id"]: dict(r) for r in await cur.fetchall()}
    assert all(r["content"] == "{}" and r["sent_at"] for r in rows.values())
    assert rows[sent]["event_id"] == "$old" and rows[sent]["content_size"] > 2  # its bookkeeping stays as it was
    assert rows[late]["event_id"] is None and rows[late]["last_error"] == "the bot left the room"
    await store.close()
