"""What the bot last asked each care room's state to be, by event type (name, topic, power levels, ACL).

Decides nothing: `work.room_state` compares it with what the room should say now and
queues only what differs.
"""

from __future__ import annotations

import json
from typing import Any

from homeward.store.changes import changes_case
from homeward.store.sql import Connection, Row


async def last_queued(db: Connection, case_id: int) -> dict[str, dict[str, Any]]:
    async with db.execute("SELECT event_type, content FROM room_state WHERE case_id = ?", (case_id,)) as cur:
        return {row["event_type"]: json.loads(row["content"]) for row in await cur.fetchall()}


@changes_case
async def record(db: Connection, case_id: int, event_type: str, content: dict[str, Any]) -> None:
    await db.execute(
        "INSERT INTO room_state (case_id, event_type, content) VALUES (?, ?, ?) "
        "ON CONFLICT (case_id, event_type) DO UPDATE SET content = excluded.content",
        (case_id, event_type, json.dumps(content, ensure_ascii=False, sort_keys=True)),
    )


async def pending(db: Connection, case_id: int, event_type: str) -> bool:
    """Whether the bot's own change of this state event is still waiting in the outbox (on its way)."""
    async with db.execute(
        "SELECT 1 FROM outbox WHERE supersede_key = ? AND sent_at IS NULL LIMIT 1",
        (f"state:{case_id}:{event_type}",),
    ) as cur:
        return await cur.fetchone() is not None


@changes_case
async def forget_everywhere(db: Connection, event_type: str) -> None:
    """Forget what was queued of `event_type` in every room, so that it is queued again (the homeserver changed it)."""
    await db.execute("DELETE FROM room_state WHERE event_type = ?", (event_type,))


async def case_rooms(db: Connection) -> list[Row]:
    """Every case whose room exists and still has the bot (not removed by its retention run): id, room,
    pathway, label, its coordinators and the state last queued."""
    async with db.execute(
        "SELECT c.id, c.room_id, c.pathway_id, c.label,"
        " (SELECT json_group_array(user_id) FROM members m"
        " WHERE m.case_id = c.id AND m.coordinator = 1) AS j_coordinators,"
        " (SELECT json_group_object(event_type, json(content)) FROM room_state s WHERE s.case_id = c.id) AS j_state"
        " FROM cases c WHERE c.room_id IS NOT NULL AND c.purged_at IS NULL ORDER BY c.id"
    ) as cur:
        return list(await cur.fetchall())
