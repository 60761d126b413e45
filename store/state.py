"""Small bookkeeping tables: sync position, handled events, rooms, undecrypted events."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeward.store.changes import bookkeeping
from homeward.store.sql import Connection, Row


async def get_value(db: Connection, key: str) -> str | None:
    async with db.execute("SELECT value FROM kv WHERE key = ?", (key,)) as cur:
        row = await cur.fetchone()
    return row["value"] if row else None


@bookkeeping
async def set_value(db: Connection, key: str, value: str) -> None:
    await db.execute(
        "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


@bookkeeping
async def mark_handled(db: Connection, event_id: str, room_id: str, now: datetime) -> bool:
    """Record that `event_id` was acted on; False if it already was (then do nothing)."""
    cur = await db.execute(
        "INSERT INTO handled_events (event_id, room_id, handled_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        (event_id, room_id, now.isoformat()),
    )
    return cur.rowcount == 1


async def was_handled(db: Connection, event_id: str) -> bool:
    async with db.execute("SELECT 1 FROM handled_events WHERE event_id = ?", (event_id,)) as cur:
        return await cur.fetchone() is not None


@bookkeeping
async def remember_room(db: Connection, room_id: str, kind: str, language: str, now: datetime) -> None:
    await db.execute(
        "INSERT INTO rooms (room_id, kind, language, joined_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (room_id, kind, language, now.isoformat()),
    )


@dataclass(frozen=True)
class RoomInfo:
    """A room the bot knows: what kind it is ('case', 'direct', 'other') and the language it speaks."""

    room_id: str
    kind: str
    language: str


async def room_info(db: Connection, room_id: str) -> RoomInfo | None:
    async with db.execute("SELECT kind, language FROM rooms WHERE room_id = ?", (room_id,)) as cur:
        row = await cur.fetchone()
    return RoomInfo(room_id, row["kind"], row["language"]) if row else None


@bookkeeping
async def add_undecrypted(
    db: Connection, event_id: str, room_id: str, sender: str, source: dict[str, Any], now: datetime
) -> bool:
    cur = await db.execute(
        "INSERT INTO undecrypted (event_id, room_id, sender, event_json, first_seen) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        (event_id, room_id, sender, json.dumps(source), now.isoformat()),
    )
    return cur.rowcount == 1


async def list_undecrypted(db: Connection) -> list[Row]:
    async with db.execute("SELECT * FROM undecrypted ORDER BY first_seen") as cur:
        return list(await cur.fetchall())


@bookkeeping
async def forget_undecrypted(db: Connection, event_id: str) -> None:
    await db.execute("DELETE FROM undecrypted WHERE event_id = ?", (event_id,))


@bookkeeping
async def mark_undecrypted_notified(db: Connection, event_id: str, now: datetime) -> None:
    await db.execute("UPDATE undecrypted SET notified_at = ? WHERE event_id = ?", (now.isoformat(), event_id))
