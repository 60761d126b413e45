"""Why children wait, as rows: the reasons lanes give, the questions the overdue reminders asked,
the pathway version each case follows, and the key of the event log's case pseudonyms.

Every answer is a new row (the latest per item and lane counts), so a changed answer
keeps the one before; the audit trail records each as well. The care logic decides
(`care.delays`); this module only reads and writes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import datetime

from homeward.care.case import GivenReason
from homeward.care.delays import Ask
from homeward.store.changes import bookkeeping, changes_case
from homeward.store.sql import Connection, Row

#: The kv key of the installation's secret for case pseudonyms (made by a migration, never shown).
PSEUDONYM_KEY = "events_pseudonym_key"


@changes_case
async def add_reason(db: Connection, case_id: int, given: GivenReason, event_id: str | None) -> None:
    """Record one answer; the latest per (item, lane) is the one that counts."""
    await db.execute(
        "INSERT INTO delay_reasons (case_id, item_id, lane_id, reason_id, code, user_id, at, on_behalf, event_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            case_id,
            given.item_id,
            given.lane,
            given.reason,
            given.code,
            given.user_id,
            given.at.isoformat(),
            int(given.on_behalf),
            event_id,
        ),
    )


def _given(row: Row) -> GivenReason:
    return GivenReason(
        row["item_id"],
        row["lane_id"],
        row["reason_id"],
        row["code"],
        row["user_id"],
        datetime.fromisoformat(row["at"]),
        bool(row["on_behalf"]),
    )


async def current_reasons(db: Connection, case_id: int) -> dict[tuple[str, str], GivenReason]:
    """(item, lane) → the latest answer, for one case."""
    return (await reasons_of_cases(db, [case_id])).get(case_id, {})


async def reasons_of_cases(db: Connection, case_ids: Iterable[int]) -> dict[int, dict[tuple[str, str], GivenReason]]:
    """The latest answer per (item, lane) of each case: one read for many cases (the statistics)."""
    wanted = sorted(set(case_ids))
    found: dict[int, dict[tuple[str, str], GivenReason]] = {}
    for start in range(0, len(wanted), 500):  # at most 500 placeholders per statement
        chunk = wanted[start : start + 500]
        marks = ",".join("?" * len(chunk))
        async with db.execute(f"SELECT * FROM delay_reasons WHERE case_id IN ({marks}) ORDER BY id", chunk) as cur:
            for row in await cur.fetchall():
                given = _given(row)
                found.setdefault(row["case_id"], {})[(given.item_id, given.lane)] = given  # later rows win
    return found


async def reason_history(db: Connection, case_id: int) -> list[GivenReason]:
    """Every answer of a case in the order given (a changed answer keeps the one before)."""
    async with db.execute("SELECT * FROM delay_reasons WHERE case_id = ? ORDER BY id", (case_id,)) as cur:
        return [_given(row) for row in await cur.fetchall()]


@bookkeeping
async def add_ask(db: Connection, case_id: int, item_id: str, lane: str, at: datetime, outbox_id: int) -> None:
    """The overdue reminder queued as `outbox_id` asks `lane` why `item_id` is late."""
    await db.execute(
        "INSERT INTO delay_asks (case_id, item_id, lane_id, asked_at, outbox_id) VALUES (?, ?, ?, ?, ?)",
        (case_id, item_id, lane, at.isoformat(), outbox_id),
    )


async def asks(db: Connection, case_id: int) -> list[Ask]:
    """Every question asked in a case."""
    async with db.execute(
        "SELECT item_id, lane_id, asked_at FROM delay_asks WHERE case_id = ? ORDER BY id", (case_id,)
    ) as cur:
        return [Ask(r["item_id"], r["lane_id"], datetime.fromisoformat(r["asked_at"])) for r in await cur.fetchall()]


async def ask_for_event(db: Connection, case_id: int, event_id: str) -> tuple[str, list[str]] | None:
    """(item, lanes asked) of the reminder the bot posted as `event_id`, if it asked why."""
    async with db.execute(
        "SELECT a.item_id, a.lane_id FROM delay_asks a JOIN outbox o ON o.id = a.outbox_id"
        " WHERE o.event_id = ? AND a.case_id = ? ORDER BY a.id",
        (event_id, case_id),
    ) as cur:
        rows = list(await cur.fetchall())
    if not rows:
        return None
    return rows[0]["item_id"], [r["lane_id"] for r in rows]


@changes_case
async def record_version(db: Connection, case_id: int, version: str) -> None:
    """The pathway version a case was opened with (kept when the file changes later)."""
    await db.execute(
        "INSERT INTO case_pathway_versions (case_id, version) VALUES (?, ?) ON CONFLICT (case_id) DO NOTHING",
        (case_id, version),
    )


async def versions(db: Connection) -> dict[int, str]:
    """Every case's pathway version, where it was recorded (cases opened before it was are not here)."""
    async with db.execute("SELECT case_id, version FROM case_pathway_versions") as cur:
        return {r["case_id"]: r["version"] for r in await cur.fetchall()}


@bookkeeping
async def make_pseudonym_key(db: Connection) -> None:
    """Migration: the installation's secret for case pseudonyms, made once."""
    await db.execute(
        "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
        (PSEUDONYM_KEY, secrets.token_hex(32)),
    )


async def pseudonym_key(db: Connection) -> bytes:
    async with db.execute("SELECT value FROM kv WHERE key = ?", (PSEUDONYM_KEY,)) as cur:
        row = await cur.fetchone()
    if row is None:
        raise LookupError("the event log's pseudonym key is missing (the migration makes it)")
    return bytes.fromhex(row["value"])


def pseudonym(key: bytes, case_id: int) -> str:
    """A case's name in the event log: keyed, so it cannot be worked back to the case without the key."""
    digest = hmac.new(key, f"homeward-case:{case_id}".encode(), hashlib.sha256).hexdigest()
    return f"case-{digest[:16]}"
