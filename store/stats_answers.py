"""Which cases each `!stats` answer counted, per pathway: what `care.stats.sets_apart` compares a new
answer with, so that no two answers set fewer than five cases apart.

Only the case ids and when (no figure, no label): an answer that showed no figure (fewer than five
cases) is not recorded.
"""

from __future__ import annotations

from datetime import datetime

from homeward.store.changes import bookkeeping
from homeward.store.sql import Connection


async def answered(db: Connection, pathway_id: str) -> list[frozenset[int]]:
    """The case sets of every answer given on the pathway, oldest first."""
    async with db.execute("SELECT case_ids FROM stats_answers WHERE pathway_id = ? ORDER BY id", (pathway_id,)) as cur:
        return [frozenset(int(c) for c in r["case_ids"].split(",") if c) for r in await cur.fetchall()]


@bookkeeping
async def record(db: Connection, pathway_id: str, user_id: str, case_ids: frozenset[int], now: datetime) -> None:
    """Remember that an answer counted exactly these cases (the same set twice: once)."""
    key = ",".join(str(c) for c in sorted(case_ids))
    await db.execute(
        "INSERT INTO stats_answers (pathway_id, case_ids, first_by, first_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (pathway_id, case_ids) DO NOTHING",
        (pathway_id, key, user_id, now.isoformat()),
    )
