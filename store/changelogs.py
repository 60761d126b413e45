"""The plan and the minutes of a case: append-only change logs, folded into snapshots."""

from __future__ import annotations

import json

from homeward.care.careplan import CarePlan, CarePlanChange, fold_careplan
from homeward.care.minutes import Minutes, MinutesChange, fold_minutes
from homeward.store.changes import changes_case
from homeward.store.sql import Connection


async def load_careplan(db: Connection, case_id: int) -> CarePlan:
    async with db.execute("SELECT record FROM plan_changes WHERE case_id = ? ORDER BY version", (case_id,)) as cur:
        changes = [CarePlanChange.from_record(json.loads(r["record"])) for r in await cur.fetchall()]
    return fold_careplan(changes)


@changes_case
async def add_careplan_change(db: Connection, case_id: int, change: CarePlanChange, event_id: str) -> None:
    await db.execute(
        "INSERT INTO plan_changes (case_id, version, record, event_id) VALUES (?, ?, ?, ?)",
        (case_id, change.version, json.dumps(change.to_record(), ensure_ascii=False), event_id),
    )


async def load_minutes(db: Connection, case_id: int, meeting_key: str) -> Minutes | None:
    async with db.execute(
        "SELECT record FROM minutes_changes WHERE case_id = ? AND meeting_key = ? ORDER BY version",
        (case_id, meeting_key),
    ) as cur:
        changes = [MinutesChange.from_record(json.loads(r["record"])) for r in await cur.fetchall()]
    return fold_minutes(changes) if changes else None


@changes_case
async def add_minutes_change(
    db: Connection, case_id: int, meeting_key: str, change: MinutesChange, event_id: str
) -> None:
    await db.execute(
        "INSERT INTO minutes_changes (case_id, meeting_key, version, record, event_id) VALUES (?, ?, ?, ?, ?)",
        (case_id, meeting_key, change.version, json.dumps(change.to_record(), ensure_ascii=False), event_id),
    )


async def all_minutes(db: Connection, case_id: int) -> dict[str, Minutes]:
    """The minutes of every meeting scheduled in the case, by meeting key."""
    found = {}
    for key in await meeting_keys(db, case_id):
        minutes = await load_minutes(db, case_id, key)
        if minutes is not None:
            found[key] = minutes
    return found


async def meeting_keys(db: Connection, case_id: int) -> list[str]:
    async with db.execute(
        "SELECT DISTINCT meeting_key FROM minutes_changes WHERE case_id = ? ORDER BY meeting_key", (case_id,)
    ) as cur:
        return [r["meeting_key"] for r in await cur.fetchall()]
