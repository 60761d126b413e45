"""Outgoing events, queued in the transaction of the change that caused them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiosqlite


@dataclass(frozen=True)
class OutboxRow:
    id: int
    room_id: str
    event_type: str
    content: dict[str, Any]
    attempts: int

    @property
    def txn_id(self) -> str:
        """Stable per row: the homeserver drops a resend with the same transaction id."""
        return f"homeward-{self.id}"


async def enqueue(db: aiosqlite.Connection, room_id: str, event_type: str, content: dict[str, Any], now: datetime) -> int:
    cur = await db.execute(
        "INSERT INTO outbox (room_id, event_type, content, created_at) VALUES (?, ?, ?, ?)",
        (room_id, event_type, json.dumps(content, ensure_ascii=False), now.isoformat()),
    )
    return int(cur.lastrowid)  # type: ignore[arg-type]


async def pending(db: aiosqlite.Connection, limit: int = 50) -> list[OutboxRow]:
    async with db.execute(
        "SELECT id, room_id, event_type, content, attempts FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT ?",
        (limit,),
    ) as cur:
        rows = await cur.fetchall()
    return [OutboxRow(r["id"], r["room_id"], r["event_type"], json.loads(r["content"]), r["attempts"]) for r in rows]


async def mark_sent(db: aiosqlite.Connection, row_id: int, event_id: str, now: datetime) -> None:
    await db.execute("UPDATE outbox SET sent_at = ?, event_id = ? WHERE id = ?", (now.isoformat(), event_id, row_id))


async def mark_failed(db: aiosqlite.Connection, row_id: int, error: str) -> None:
    await db.execute("UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?", (error[:500], row_id))


async def sent_event_id(db: aiosqlite.Connection, row_id: int) -> str | None:
    async with db.execute("SELECT event_id FROM outbox WHERE id = ?", (row_id,)) as cur:
        row = await cur.fetchone()
    return row["event_id"] if row else None


async def mark_abandoned(db: aiosqlite.Connection, row_id: int, error: str, now: datetime) -> None:
    """Never deliverable (e.g. the bot was removed from the room): stop retrying, keep the reason."""
    await db.execute(
        "UPDATE outbox SET sent_at = ?, attempts = attempts + 1, last_error = ? WHERE id = ?",
        (now.isoformat(), error[:500], row_id),
    )
