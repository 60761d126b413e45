"""Outgoing events, queued in the transaction of the change that caused them."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiosqlite


# What an outbox row asks the homeserver to do.
EVENT = "event"  # send `content` as a room event of `event_type`
STATE = "state"  # put `content` as state `event_type` (state key in content["state_key"])
CREATE_ROOM = "create_room"  # create a room from `content` (kwargs of nio's room_create)
INVITE = "invite"  # invite content["user_id"]
KICK = "kick"  # remove content["user_id"]
LEAVE = "leave"  # the bot leaves the room (a case's retention run); then the room's sent content is forgotten
# Upload a file and post it as m.file (encrypted as an attachment in an encrypted room):
# content = {"filename", "mimetype", "data_b64", "body", "info": {...}, "homeward.*": ...}
FILE = "file"

PLACEHOLDER = "$outbox:"


def ref(row_id: int) -> str:
    """A value resolved when sending: the event id (or, for a created room, the room id) of row `row_id`."""
    return f"{PLACEHOLDER}{row_id}"


@dataclass(frozen=True)
class OutboxRow:
    id: int
    room_id: str
    event_type: str
    content: dict[str, Any]
    attempts: int
    kind: str = EVENT
    room_kind: str | None = None  # the room's kind ('case', 'direct', 'other') when read, if the room is known

    @property
    def txn_id(self) -> str:
        """Stable per row: the homeserver drops a resend with the same transaction id."""
        return f"homeward-{self.id}"


async def enqueue(
    db: aiosqlite.Connection,
    room_id: str,
    event_type: str,
    content: dict[str, Any],
    now: datetime,
    *,
    kind: str = EVENT,
    supersede_key: str | None = None,
) -> int:
    """Queue one thing to send. A pending row with the same `supersede_key` is replaced."""
    if supersede_key is not None:
        await db.execute("DELETE FROM outbox WHERE supersede_key = ? AND sent_at IS NULL", (supersede_key,))
    cur = await db.execute(
        "INSERT INTO outbox (room_id, event_type, content, created_at, kind, supersede_key) VALUES (?, ?, ?, ?, ?, ?)",
        (room_id, event_type, json.dumps(content, ensure_ascii=False), now.isoformat(), kind, supersede_key),
    )
    return int(cur.lastrowid)  # type: ignore[arg-type]


async def queued_after(db: aiosqlite.Connection, row_id: int) -> list[OutboxRow]:
    """The unsent rows queued after `row_id`: inside one transaction, those its work queued."""
    async with db.execute(
        "SELECT id, room_id, event_type, content, attempts, kind FROM outbox WHERE id > ? AND sent_at IS NULL ORDER BY id",
        (row_id,),
    ) as cur:
        rows = await cur.fetchall()
    return [OutboxRow(r["id"], r["room_id"], r["event_type"], json.loads(r["content"]), r["attempts"], r["kind"]) for r in rows]


def is_edit(row: OutboxRow) -> bool:
    """An m.replace of an earlier message: where it lands in the timeline does not matter."""
    relation = row.content.get("m.relates_to")
    return row.kind == EVENT and isinstance(relation, dict) and relation.get("rel_type") == "m.replace"


async def set_content(db: aiosqlite.Connection, row_id: int, content: dict[str, Any]) -> None:
    """Fill in a row queued early to hold its place (a command's answer); never for a row that may be sent."""
    await db.execute("UPDATE outbox SET content = ? WHERE id = ? AND sent_at IS NULL", (json.dumps(content, ensure_ascii=False), row_id))


async def drop(db: aiosqlite.Connection, row_id: int) -> None:
    """Remove a row queued in the current transaction that is not wanted after all."""
    await db.execute("DELETE FROM outbox WHERE id = ? AND sent_at IS NULL", (row_id,))


async def enqueue_file(
    db: aiosqlite.Connection, room_id: str, filename: str, mimetype: str, data: bytes, now: datetime, **extra: Any
) -> int:
    """Queue a file for the room (uploaded encrypted in an encrypted room); `extra` are homeward.* keys."""
    content = {
        "filename": filename,
        "mimetype": mimetype,
        "data_b64": base64.b64encode(data).decode("ascii"),
        "body": filename,
        "info": {"mimetype": mimetype, "size": len(data)},
        **{f"homeward.{key}": value for key, value in extra.items()},
    }
    return await enqueue(db, room_id, "m.room.message", content, now, kind=FILE)


async def pending(db: aiosqlite.Connection, limit: int = 50) -> list[OutboxRow]:
    """The rows to send, oldest first, each with its room's kind (one query: the sender's only read before a send)."""
    async with db.execute(
        "SELECT o.id, o.room_id, o.event_type, o.content, o.attempts, o.kind, r.kind AS room_kind"
        " FROM outbox o LEFT JOIN rooms r ON r.room_id = o.room_id WHERE o.sent_at IS NULL ORDER BY o.id LIMIT ?",
        (limit,),
    ) as cur:
        rows = await cur.fetchall()
    return [
        OutboxRow(r["id"], r["room_id"], r["event_type"], json.loads(r["content"]), r["attempts"], r["kind"], r["room_kind"])
        for r in rows
    ]


async def results(db: aiosqlite.Connection, row_ids: set[int]) -> dict[int, tuple[bool, str | None]]:
    """For each row: (finished, event id or room id). Finished with None means abandoned."""
    if not row_ids:
        return {}
    marks = ",".join("?" * len(row_ids))
    async with db.execute(f"SELECT id, sent_at, event_id FROM outbox WHERE id IN ({marks})", tuple(row_ids)) as cur:
        rows = await cur.fetchall()
    return {r["id"]: (r["sent_at"] is not None, r["event_id"]) for r in rows}


async def count_attempt(db: aiosqlite.Connection, row_id: int) -> None:
    """Note that a non-idempotent request (room creation) is about to be made."""
    await db.execute("UPDATE outbox SET attempts = attempts + 1 WHERE id = ?", (row_id,))


async def mark_sent(db: aiosqlite.Connection, row_id: int, event_id: str, now: datetime) -> None:
    await db.execute("UPDATE outbox SET sent_at = ?, event_id = ? WHERE id = ?", (now.isoformat(), event_id, row_id))


async def mark_failed(db: aiosqlite.Connection, row_id: int, error: str) -> None:
    await db.execute("UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?", (error[:500], row_id))


async def mark_abandoned(db: aiosqlite.Connection, row_id: int, error: str, now: datetime) -> None:
    """Never deliverable (e.g. the bot was removed from the room): stop retrying, keep the reason."""
    await db.execute(
        "UPDATE outbox SET sent_at = ?, attempts = attempts + 1, last_error = ? WHERE id = ?",
        (now.isoformat(), error[:500], row_id),
    )


async def forget_room(db: aiosqlite.Connection, room_id: str, now: datetime) -> int:
    """The bot has left `room_id` for good: keep no message content of it, and give up what was
    still waiting to go there (it never can). The number of rows touched."""
    cur = await db.execute(
        "UPDATE outbox SET content = '{}', sent_at = COALESCE(sent_at, ?),"
        " last_error = CASE WHEN sent_at IS NULL THEN 'the bot left the room' ELSE last_error END WHERE room_id = ?",
        (now.isoformat(), room_id),
    )
    return cur.rowcount
