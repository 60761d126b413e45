"""What `homeward status` reports of a store: who acts, what waits to be sent, what is due.

SQL only; the command (homeward/cli.py) says it and decides the exit code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from homeward.store import lease
from homeward.store.sql import POSTGRESQL, Connection, dialect


@dataclass(frozen=True)
class Health:
    lease: lease.LeaseState | None  # None: no process ever held it (or SQLite: one process)
    outbox_waiting: int
    oldest_waiting: datetime | None  # when the oldest unsent row was queued
    next_due: datetime | None  # the earliest scheduled reminder, worklist or retention run
    overdue: int  # scheduled rows whose time has passed (at `now`)


async def health(db: Connection, now: datetime) -> Health:
    rows = list(await db.execute_fetchall("SELECT count(*), min(created_at) FROM outbox WHERE sent_at IS NULL", ()))
    waiting, oldest = rows[0][0], rows[0][1]
    scheduled = []
    for table in ("reminders", "digests", "retention_runs"):
        found = list(
            await db.execute_fetchall(
                f"SELECT min(fire_at), sum(CASE WHEN fire_at <= ? THEN 1 ELSE 0 END) FROM {table}"
                " WHERE status = 'planned'",
                (now.isoformat(),),
            )
        )
        scheduled.append((found[0][0], int(found[0][1] or 0)))
    times = [datetime.fromisoformat(at) for at, _ in scheduled if at]
    state = await lease.read(db) if dialect(db) == POSTGRESQL else None
    return Health(
        lease=state if state is not None and state.holder else None,
        outbox_waiting=int(waiting),
        oldest_waiting=datetime.fromisoformat(oldest) if oldest else None,
        next_due=min(times) if times else None,
        overdue=sum(count for _, count in scheduled),
    )
