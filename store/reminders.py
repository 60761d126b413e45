"""Reminder rows: the store is the source of truth; the scheduler only wakes the bot up.

`reconcile` makes the rows of a case match what the care logic wants (called in the
transaction of every change of the case). `due` lists the rows whose time has come;
the caller fires each in its own transaction, which queues the message in the outbox
and marks the row sent together — so a reminder is never lost and never doubled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from homeward.care.case import CaseView, due_at, missing_lanes
from homeward.care.pathway import Pathway
from homeward.care.reminders import Wanted, desired_reminders, policy_for
from homeward.store.cases import case_by_id, load_view


@dataclass(frozen=True)
class ReminderRow:
    id: int
    case_id: int
    item_id: str
    kind: str
    sequence: int
    due: datetime | None
    planned_at: datetime
    fire_at: datetime
    status: str
    requested_by: str | None
    outbox_id: int | None


def _row(r: aiosqlite.Row) -> ReminderRow:
    return ReminderRow(
        r["id"], r["case_id"], r["item_id"], r["kind"], r["sequence"],
        datetime.fromisoformat(r["due"]) if r["due"] else None,
        datetime.fromisoformat(r["planned_at"]), datetime.fromisoformat(r["fire_at"]),
        r["status"], r["requested_by"], r["outbox_id"],
    )


async def sent_keys(db: aiosqlite.Connection, case_id: int) -> set[tuple[str, str, int, datetime]]:
    async with db.execute(
        "SELECT item_id, kind, sequence, due FROM reminders WHERE case_id = ? AND status = 'sent' AND due IS NOT NULL",
        (case_id,),
    ) as cur:
        return {(r["item_id"], r["kind"], r["sequence"], datetime.fromisoformat(r["due"])) for r in await cur.fetchall()}


async def reconcile(db: aiosqlite.Connection, case_id: int, view: CaseView, wanted: list[Wanted], now: datetime) -> None:
    """Cancel planned rows no longer wanted, add the new ones; sent rows stay as they are.

    A planned row whose time has passed while its item is still open and its due time
    unchanged was missed (the bot was down, or has not fired it yet): it stays, and goes
    out late, once.
    """
    calendar = view.calendar()
    current_due = {item.id: due_at(view, item, calendar) for _, item in view.items()}
    async with db.execute("SELECT * FROM reminders WHERE case_id = ? AND status = 'planned'", (case_id,)) as cur:
        planned = [_row(r) for r in await cur.fetchall()]
    wanted_keys = {(w.item_id, w.kind, w.sequence, w.due) for w in wanted}
    open_items = {item.id for _, item in view.items() if missing_lanes(view, item)}
    have: set[tuple[str, str, int, datetime | None]] = set()
    for row in planned:
        key = (row.item_id, row.kind, row.sequence, row.due)
        missed = row.fire_at <= now and row.item_id in open_items and row.due == current_due.get(row.item_id)
        keep = row.item_id in open_items if row.kind == "custom" else (key in wanted_keys or missed)
        if keep:
            have.add(key)
        else:
            await db.execute("UPDATE reminders SET status = 'cancelled' WHERE id = ?", (row.id,))
    by_key = {(r.item_id, r.kind, r.sequence, r.due): r for r in planned}
    for w in wanted:
        key = (w.item_id, w.kind, w.sequence, w.due)
        if key in have:
            row = by_key[key]
            if row.planned_at != w.planned_at:  # quiet hours changed: same reminder, new time
                await db.execute(
                    "UPDATE reminders SET planned_at = ?, fire_at = ? WHERE id = ?",
                    (w.planned_at.isoformat(), w.planned_at.isoformat(), row.id),
                )
            continue
        await db.execute(
            "INSERT OR IGNORE INTO reminders (case_id, item_id, kind, sequence, due, planned_at, fire_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (case_id, w.item_id, w.kind, w.sequence, w.due.isoformat(), w.planned_at.isoformat(), w.planned_at.isoformat()),
        )


async def add_custom(db: aiosqlite.Connection, case_id: int, item_id: str, at: datetime, by: str) -> int:
    async with db.execute("SELECT COALESCE(MAX(sequence), 0) + 1 FROM reminders WHERE case_id = ? AND kind = 'custom'", (case_id,)) as cur:
        (sequence,) = await cur.fetchone()  # type: ignore[misc]
    cur = await db.execute(
        "INSERT INTO reminders (case_id, item_id, kind, sequence, due, planned_at, fire_at, requested_by) VALUES (?, ?, 'custom', ?, NULL, ?, ?, ?)",
        (case_id, item_id, sequence, at.isoformat(), at.isoformat(), by),
    )
    return int(cur.lastrowid)  # type: ignore[arg-type]


async def next_fire_at(db: aiosqlite.Connection) -> datetime | None:
    async with db.execute("SELECT MIN(fire_at) FROM reminders WHERE status = 'planned'") as cur:
        (value,) = await cur.fetchone()  # type: ignore[misc]
    return datetime.fromisoformat(value) if value else None


async def due_rows(db: aiosqlite.Connection, now: datetime, limit: int = 200) -> list[ReminderRow]:
    async with db.execute(
        "SELECT * FROM reminders WHERE status = 'planned' AND fire_at <= ? ORDER BY fire_at, id LIMIT ?",
        (now.isoformat(), limit),
    ) as cur:
        return [_row(r) for r in await cur.fetchall()]


async def get(db: aiosqlite.Connection, reminder_id: int) -> ReminderRow | None:
    async with db.execute("SELECT * FROM reminders WHERE id = ?", (reminder_id,)) as cur:
        row = await cur.fetchone()
    return _row(row) if row else None


async def mark_fired(db: aiosqlite.Connection, reminder_id: int, now: datetime, outbox_id: int) -> bool:
    """Planned → sent, once: False when another path already fired or cancelled it."""
    cur = await db.execute(
        "UPDATE reminders SET status = 'sent', fired_at = ?, outbox_id = ? WHERE id = ? AND status = 'planned'",
        (now.isoformat(), outbox_id, reminder_id),
    )
    return cur.rowcount == 1


async def postpone(db: aiosqlite.Connection, reminder_id: int, until: datetime) -> None:
    await db.execute("UPDATE reminders SET fire_at = ? WHERE id = ? AND status = 'planned'", (until.isoformat(), reminder_id))


async def cancel(db: aiosqlite.Connection, reminder_id: int) -> None:
    await db.execute("UPDATE reminders SET status = 'cancelled' WHERE id = ? AND status = 'planned'", (reminder_id,))


async def planned_for_case(db: aiosqlite.Connection, case_id: int) -> list[ReminderRow]:
    async with db.execute(
        "SELECT * FROM reminders WHERE case_id = ? AND status = 'planned' ORDER BY fire_at, id", (case_id,)
    ) as cur:
        return [_row(r) for r in await cur.fetchall()]


async def snooze(db: aiosqlite.Connection, case_id: int, item_id: str, lane: str, until: datetime) -> None:
    await db.execute(
        "INSERT INTO snoozes (case_id, item_id, lane_id, until) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (case_id, item_id, lane_id) DO UPDATE SET until = excluded.until",
        (case_id, item_id, lane, until.isoformat()),
    )


async def snoozed_until(db: aiosqlite.Connection, case_id: int, item_id: str) -> dict[str, datetime]:
    async with db.execute("SELECT lane_id, until FROM snoozes WHERE case_id = ? AND item_id = ?", (case_id, item_id)) as cur:
        return {r["lane_id"]: datetime.fromisoformat(r["until"]) for r in await cur.fetchall()}


async def set_quiet(db: aiosqlite.Connection, case_id: int, setting: str | None) -> None:
    await db.execute("UPDATE cases SET quiet = ? WHERE id = ?", (setting, case_id))


async def quiet_setting(db: aiosqlite.Connection, case_id: int) -> str | None:
    async with db.execute("SELECT quiet FROM cases WHERE id = ?", (case_id,)) as cur:
        row = await cur.fetchone()
    return row["quiet"] if row else None


async def replan(db: aiosqlite.Connection, case_id: int, pathway: Pathway, now: datetime) -> None:
    """Bring the planned reminders of a case in line with its state (after any change)."""
    case = await case_by_id(db, case_id)
    view = await load_view(db, case, pathway)
    policy = policy_for(await quiet_setting(db, case_id))
    wanted = desired_reminders(view, policy, now, await sent_keys(db, case_id))
    await reconcile(db, case_id, view, wanted, now)
