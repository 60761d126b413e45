"""The scheduled morning worklists (digests) in the store: one row per person and local day.

SQL only: when a worklist is due and whether it still goes out is decided in `care.worklist`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from homeward.care.worklist import DigestChanges, ScheduledDigest
from homeward.store.changes import bookkeeping, changes_case
from homeward.store.sql import Connection, Row


async def worklist_people(db: Connection) -> list[str]:
    """Everyone who coordinates an open case or has a worklist scheduled: whose rows start-up reconciles."""
    async with db.execute(
        "SELECT m.user_id FROM members m JOIN cases c ON c.id = m.case_id"
        " WHERE m.coordinator = 1 AND c.state = 'open' AND c.purged_at IS NULL"
        " UNION SELECT user_id FROM digests WHERE status = 'planned' ORDER BY 1"
    ) as cur:
        return [r[0] for r in await cur.fetchall()]


def _digest(r: Row) -> ScheduledDigest:
    return ScheduledDigest(
        r["id"],
        r["user_id"],
        date.fromisoformat(r["day"]),
        datetime.fromisoformat(r["planned_at"]),
        datetime.fromisoformat(r["fire_at"]),
        r["status"],
    )


async def rows_of(db: Connection, user_id: str, since: date) -> list[ScheduledDigest]:
    """A person's scheduled rows, and every row of `since` and later: what `schedule_digest` compares."""
    async with db.execute(
        "SELECT * FROM digests WHERE user_id = ? AND (status = 'planned' OR day >= ?) ORDER BY day",
        (user_id, since.isoformat()),
    ) as cur:
        return [_digest(r) for r in await cur.fetchall()]


@changes_case
async def apply_digest(db: Connection, user_id: str, changes: DigestChanges) -> None:
    """Write what `care.worklist.schedule_digest` decided.

    A day cancelled before and wanted again is scheduled again.
    """
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
            " fire_at = excluded.fire_at WHERE digests.status = 'cancelled'",
            (user_id, day.isoformat(), at.isoformat(), at.isoformat()),
        )


async def digest(db: Connection, digest_id: int) -> ScheduledDigest | None:
    async with db.execute("SELECT * FROM digests WHERE id = ?", (digest_id,)) as cur:
        row = await cur.fetchone()
    return _digest(row) if row else None


async def due_digests(db: Connection, now: datetime, limit: int = 200) -> list[ScheduledDigest]:
    async with db.execute(
        "SELECT * FROM digests WHERE status = 'planned' AND fire_at <= ? ORDER BY fire_at, id LIMIT ?",
        (now.isoformat(), limit),
    ) as cur:
        return [_digest(r) for r in await cur.fetchall()]


async def next_digest_at(db: Connection) -> datetime | None:
    async with db.execute("SELECT MIN(fire_at) FROM digests WHERE status = 'planned'") as cur:
        (value,) = await cur.fetchone()
    return datetime.fromisoformat(value) if value else None


@bookkeeping
async def finish_digest(
    db: Connection, digest_id: int, status: str, now: datetime, outbox_id: int | None = None
) -> bool:
    """Planned → sent / empty / dropped, once: False when another path already did it."""
    cur = await db.execute(
        "UPDATE digests SET status = ?, fired_at = ?, outbox_id = ? WHERE id = ? AND status = 'planned'",
        (status, now.isoformat(), outbox_id, digest_id),
    )
    return cur.rowcount == 1


@bookkeeping
async def postpone_digest(db: Connection, digest_id: int, until: datetime) -> None:
    await db.execute(
        "UPDATE digests SET fire_at = ? WHERE id = ? AND status = 'planned'",
        (until.astimezone(UTC).isoformat(), digest_id),
    )
