"""The coordinator's desk in the store: a person's cases in one read, their direct chat and
worklist setting, the planned worklists and retention runs, and a case's removal.

SQL only: what a case's line says and when things are due is decided in `care.desk`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import aiosqlite

from homeward.care.consent import Answer
from homeward.care.desk import DigestChanges, PlannedDigest
from homeward.care.pathway import Pathway
from homeward.store.cases import CASE_COLUMNS, LoadedCase, loaded_case
from homeward.store.changes import bookkeeping, changes_case


@dataclass(frozen=True)
class DeskCase:
    """A case on a person's desk: loaded as for its own room, with its consent answers and last activity."""

    loaded: LoadedCase
    answers: list[Answer]
    last_activity: datetime | None
    member: bool  # the person is on its team (else it is shown because it has no coordinator)
    checklist_event: str | None = (
        None  # the event of the current checklist, once it was sent: where a link opens the room
    )


async def cases_of(
    db: aiosqlite.Connection,
    user_id: str,
    pathways: dict[str, Pathway],
    *,
    bot_id: str,
    reading: frozenset[str],
    closed: bool = False,
    orphans: bool = True,
) -> list[DeskCase]:
    """Every case `user_id` is a member of (the closed ones too with `closed`) and, with `orphans`,
    every open case without a coordinator on a pathway they coordinate an open case of.

    One statement for any number of cases: each sub-select is a JSON array of one table's rows
    for its case (as `load_room` does), through the tables' (case_id, …) keys. The last
    activity is the latest audit row of a person (not the bot) that is not one of `reading`.
    """
    marks = ",".join("?" * len(reading))
    sql = f"""
        SELECT {CASE_COLUMNS},
          (SELECT json_group_array(json_array(consent_id, user_id, answer, at, id))
             FROM consent_answers WHERE case_id = c.id) AS j_consents,
          (SELECT MAX(at) FROM audit WHERE case_id = c.id AND actor != ? AND action NOT IN ({marks})) AS last_activity,
          EXISTS (SELECT 1 FROM members WHERE case_id = c.id AND user_id = ?) AS is_member,
          (SELECT o.event_id FROM checklists k JOIN outbox o ON o.id = k.outbox_id
             WHERE k.case_id = c.id AND k.phase_id = c.phase_id) AS checklist_event
        FROM cases c
        WHERE c.room_id IS NOT NULL AND c.purged_at IS NULL AND (? OR c.state = 'open')
          AND (c.id IN (SELECT case_id FROM members WHERE user_id = ?)
               OR (? AND c.state = 'open'
                   AND NOT EXISTS (SELECT 1 FROM members WHERE case_id = c.id AND coordinator = 1)
                   AND c.pathway_id IN (
                       SELECT c2.pathway_id FROM members m2 JOIN cases c2 ON c2.id = m2.case_id
                        WHERE m2.user_id = ? AND m2.coordinator = 1 AND c2.state = 'open' AND c2.purged_at IS NULL)))
        ORDER BY c.id
    """
    params: list[Any] = [bot_id, *sorted(reading), user_id, int(closed), user_id, int(orphans), user_id]
    found: list[DeskCase] = []
    async with db.execute(sql, params) as cur:
        for row in await cur.fetchall():
            if row["pathway_id"] not in pathways:
                continue  # a pathway file removed from the configuration: its cases cannot be shown
            answers = [
                Answer(consent, user, answer, datetime.fromisoformat(at))
                for consent, user, answer, at, _ in sorted(json.loads(row["j_consents"]), key=lambda a: a[4])
            ]
            last = datetime.fromisoformat(row["last_activity"]) if row["last_activity"] else None
            event = row["checklist_event"] if (row["checklist_event"] or "").startswith("$") else None
            found.append(DeskCase(loaded_case(row, pathways), answers, last, bool(row["is_member"]), event))
    return found


# -- people: their direct chat with the bot, their worklist setting -------------------------------


@dataclass(frozen=True)
class Person:
    user_id: str
    direct_room: str | None
    digest: str | None  # "HH:MM", "off", or None for the configured digest_time


async def person(db: aiosqlite.Connection, user_id: str) -> Person:
    async with db.execute("SELECT direct_room, digest FROM people WHERE user_id = ?", (user_id,)) as cur:
        row = await cur.fetchone()
    return Person(user_id, row["direct_room"], row["digest"]) if row else Person(user_id, None, None)


@bookkeeping
async def record_direct_room(db: aiosqlite.Connection, user_id: str, room_id: str, now: datetime) -> bool:
    """Remember `room_id` as the person's direct chat with the bot; True when that changed it."""
    cur = await db.execute(
        "INSERT INTO people (user_id, direct_room, direct_since) VALUES (?, ?, ?) "
        "ON CONFLICT (user_id) DO UPDATE SET direct_room = excluded.direct_room, direct_since = excluded.direct_since "
        "WHERE people.direct_room IS NOT excluded.direct_room",
        (user_id, room_id, now.isoformat()),
    )
    return cur.rowcount == 1


@bookkeeping
async def forget_direct_room(db: aiosqlite.Connection, room_id: str) -> None:
    """The direct chat can no longer carry a worklist (someone else is in it, the person left)."""
    await db.execute("UPDATE people SET direct_room = NULL WHERE direct_room = ?", (room_id,))


@changes_case
async def set_digest(db: aiosqlite.Connection, user_id: str, setting: str | None) -> None:
    await db.execute(
        "INSERT INTO people (user_id, digest) VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET digest = excluded.digest",
        (user_id, setting),
    )


async def coordinated_pathways(db: aiosqlite.Connection, user_id: str) -> list[str]:
    """The pathways of the open cases `user_id` coordinates (a room still being created included):
    whose working days their worklist follows."""
    async with db.execute(
        "SELECT DISTINCT c.pathway_id FROM members m JOIN cases c ON c.id = m.case_id"
        " WHERE m.user_id = ? AND m.coordinator = 1 AND c.state = 'open' AND c.purged_at IS NULL"
        " ORDER BY c.pathway_id",
        (user_id,),
    ) as cur:
        return [r["pathway_id"] for r in await cur.fetchall()]


async def worklist_people(db: aiosqlite.Connection) -> list[str]:
    """Everyone who coordinates an open case or has a worklist planned: whose rows start-up reconciles."""
    async with db.execute(
        "SELECT m.user_id FROM members m JOIN cases c ON c.id = m.case_id"
        " WHERE m.coordinator = 1 AND c.state = 'open' AND c.purged_at IS NULL"
        " UNION SELECT user_id FROM digests WHERE status = 'planned' ORDER BY 1"
    ) as cur:
        return [r[0] for r in await cur.fetchall()]


# -- planned worklists (digests) -------------------------------------------------------------------


def _digest(r: aiosqlite.Row) -> PlannedDigest:
    return PlannedDigest(
        r["id"],
        r["user_id"],
        date.fromisoformat(r["day"]),
        datetime.fromisoformat(r["planned_at"]),
        datetime.fromisoformat(r["fire_at"]),
        r["status"],
    )


async def digest_rows(db: aiosqlite.Connection, user_id: str, since: date) -> list[PlannedDigest]:
    """A person's planned rows, and every row of `since` and later: what `plan_digest` compares."""
    async with db.execute(
        "SELECT * FROM digests WHERE user_id = ? AND (status = 'planned' OR day >= ?) ORDER BY day",
        (user_id, since.isoformat()),
    ) as cur:
        return [_digest(r) for r in await cur.fetchall()]


@changes_case
async def apply_digest(db: aiosqlite.Connection, user_id: str, changes: DigestChanges) -> None:
    """Write what `care.desk.plan_digest` decided; a day cancelled before and wanted again is planned again."""
    if changes.cancel:
        marks = ",".join("?" * len(changes.cancel))
        await db.execute(
            f"UPDATE digests SET status = 'cancelled' WHERE status = 'planned' AND id IN ({marks})", changes.cancel
        )
    if changes.add is not None:
        day, at = changes.add
        at = at.astimezone(UTC)  # stored as UTC text: compared as text with other instants
        await db.execute(
            "INSERT INTO digests (user_id, day, planned_at, fire_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (user_id, day) DO UPDATE SET status = 'planned', planned_at = excluded.planned_at,"
            " fire_at = excluded.fire_at WHERE status = 'cancelled'",
            (user_id, day.isoformat(), at.isoformat(), at.isoformat()),
        )


async def digest(db: aiosqlite.Connection, digest_id: int) -> PlannedDigest | None:
    async with db.execute("SELECT * FROM digests WHERE id = ?", (digest_id,)) as cur:
        row = await cur.fetchone()
    return _digest(row) if row else None


async def due_digests(db: aiosqlite.Connection, now: datetime, limit: int = 200) -> list[PlannedDigest]:
    async with db.execute(
        "SELECT * FROM digests WHERE status = 'planned' AND fire_at <= ? ORDER BY fire_at, id LIMIT ?",
        (now.isoformat(), limit),
    ) as cur:
        return [_digest(r) for r in await cur.fetchall()]


async def next_digest_at(db: aiosqlite.Connection) -> datetime | None:
    async with db.execute("SELECT MIN(fire_at) FROM digests WHERE status = 'planned'") as cur:
        (value,) = await cur.fetchone()  # type: ignore[misc]
    return datetime.fromisoformat(value) if value else None


@bookkeeping
async def finish_digest(
    db: aiosqlite.Connection, digest_id: int, status: str, now: datetime, outbox_id: int | None = None
) -> bool:
    """Planned → sent / empty / dropped, once: False when another path already did it."""
    cur = await db.execute(
        "UPDATE digests SET status = ?, fired_at = ?, outbox_id = ? WHERE id = ? AND status = 'planned'",
        (status, now.isoformat(), outbox_id, digest_id),
    )
    return cur.rowcount == 1


@bookkeeping
async def postpone_digest(db: aiosqlite.Connection, digest_id: int, until: datetime) -> None:
    await db.execute(
        "UPDATE digests SET fire_at = ? WHERE id = ? AND status = 'planned'",
        (until.astimezone(UTC).isoformat(), digest_id),
    )


# -- retention runs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetentionRun:
    id: int
    case_id: int
    planned_at: datetime
    fire_at: datetime
    status: str  # planned | done | cancelled


def _run(r: aiosqlite.Row) -> RetentionRun:
    return RetentionRun(
        r["id"],
        r["case_id"],
        datetime.fromisoformat(r["planned_at"]),
        datetime.fromisoformat(r["fire_at"]),
        r["status"],
    )


@changes_case
async def plan_retention(db: aiosqlite.Connection, case_id: int, at: datetime | None) -> None:
    """Plan the case's retention run at `at` (moving a planned one), or cancel it (None). A done one stays done."""
    if at is None:
        await db.execute(
            "UPDATE retention_runs SET status = 'cancelled' WHERE case_id = ? AND status = 'planned'", (case_id,)
        )
        return
    at = at.astimezone(UTC)
    await db.execute(
        "INSERT INTO retention_runs (case_id, planned_at, fire_at) VALUES (?, ?, ?)"
        " ON CONFLICT (case_id) DO UPDATE SET status = 'planned', planned_at = excluded.planned_at,"
        " fire_at = excluded.fire_at WHERE status != 'done'",
        (case_id, at.isoformat(), at.isoformat()),
    )


async def closed_cases(db: aiosqlite.Connection) -> list[int]:
    """Closed cases not yet removed, and cases with a planned run: whose runs start-up reconciles."""
    async with db.execute(
        "SELECT id FROM cases WHERE state = 'closed' AND purged_at IS NULL AND room_id IS NOT NULL"
        " UNION SELECT case_id FROM retention_runs WHERE status = 'planned' ORDER BY 1"
    ) as cur:
        return [r[0] for r in await cur.fetchall()]


async def retention_by_id(db: aiosqlite.Connection, run_id: int) -> RetentionRun | None:
    async with db.execute("SELECT * FROM retention_runs WHERE id = ?", (run_id,)) as cur:
        row = await cur.fetchone()
    return _run(row) if row else None


async def due_retention(db: aiosqlite.Connection, now: datetime, limit: int = 20) -> list[RetentionRun]:
    async with db.execute(
        "SELECT * FROM retention_runs WHERE status = 'planned' AND fire_at <= ? ORDER BY fire_at, id LIMIT ?",
        (now.isoformat(), limit),
    ) as cur:
        return [_run(r) for r in await cur.fetchall()]


async def next_retention_at(db: aiosqlite.Connection) -> datetime | None:
    async with db.execute("SELECT MIN(fire_at) FROM retention_runs WHERE status = 'planned'") as cur:
        (value,) = await cur.fetchone()  # type: ignore[misc]
    return datetime.fromisoformat(value) if value else None


@bookkeeping
async def finish_retention(db: aiosqlite.Connection, run_id: int, status: str, now: datetime) -> bool:
    cur = await db.execute(
        "UPDATE retention_runs SET status = ?, fired_at = ? WHERE id = ? AND status = 'planned'",
        (status, now.isoformat(), run_id),
    )
    return cur.rowcount == 1


@bookkeeping
async def postpone_retention(db: aiosqlite.Connection, run_id: int, until: datetime) -> None:
    await db.execute(
        "UPDATE retention_runs SET fire_at = ? WHERE id = ? AND status = 'planned'",
        (until.astimezone(UTC).isoformat(), run_id),
    )


#: What a retention run removes: the personal content of a case, table by table (README, "Coordinator's desk").
PURGED_TABLES = (
    "plan_changes",
    "minutes_changes",
    "extra_tasks",
    "case_dates",
    "acks",
    "items",
    "members",
    "reminders",
    "snoozes",
    "checklists",
    "room_state",
    "removals",
)


@changes_case
async def purge_case(db: aiosqlite.Connection, case_id: int, room_id: str, now: datetime) -> dict[str, int]:
    """Remove the case's personal content; keep the case row (id, pathway, label, times), the audit
    trail and the consent answers. The number of rows removed per table."""
    await db.execute("UPDATE cases SET purged_at = ?, closed_reason = NULL WHERE id = ?", (now.isoformat(), case_id))
    removed: dict[str, int] = {}
    for table in PURGED_TABLES:
        cur = await db.execute(f"DELETE FROM {table} WHERE case_id = ?", (case_id,))
        removed[table] = cur.rowcount
    cur = await db.execute("DELETE FROM undecrypted WHERE room_id = ?", (room_id,))
    removed["undecrypted"] = cur.rowcount
    return removed


async def purged_room(db: aiosqlite.Connection, room_id: str) -> bool:
    """Whether `room_id` is the room of a case whose retention run removed it (the bot does not come back)."""
    async with db.execute("SELECT 1 FROM cases WHERE room_id = ? AND purged_at IS NOT NULL", (room_id,)) as cur:
        return await cur.fetchone() is not None
