"""People in the store: their direct chat with the bot, and their worklist setting."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from homeward.store.changes import bookkeeping, changes_case
from homeward.store.sql import Connection


@dataclass(frozen=True)
class Person:
    user_id: str
    direct_room: str | None
    digest: str | None  # "HH:MM", "off", or None for the configured digest_time


async def person(db: Connection, user_id: str) -> Person:
    async with db.execute("SELECT direct_room, digest FROM people WHERE user_id = ?", (user_id,)) as cur:
        row = await cur.fetchone()
    return Person(user_id, row["direct_room"], row["digest"]) if row else Person(user_id, None, None)


@bookkeeping
async def record_direct_room(db: Connection, user_id: str, room_id: str, now: datetime) -> bool:
    """Remember `room_id` as the person's direct chat with the bot; True when that changed it."""
    cur = await db.execute(
        "INSERT INTO people (user_id, direct_room, direct_since) VALUES (?, ?, ?) "
        "ON CONFLICT (user_id) DO UPDATE SET direct_room = excluded.direct_room, direct_since = excluded.direct_since "
        "WHERE people.direct_room IS DISTINCT FROM excluded.direct_room",
        (user_id, room_id, now.isoformat()),
    )
    return cur.rowcount == 1


@bookkeeping
async def forget_direct_room(db: Connection, room_id: str) -> None:
    """The direct chat can no longer carry a worklist (someone else is in it, the person left)."""
    await db.execute("UPDATE people SET direct_room = NULL WHERE direct_room = ?", (room_id,))


@changes_case
async def set_digest(db: Connection, user_id: str, setting: str | None) -> None:
    await db.execute(
        "INSERT INTO people (user_id, digest) VALUES (?, ?)"
        " ON CONFLICT (user_id) DO UPDATE SET digest = excluded.digest",
        (user_id, setting),
    )
