"""The lease: which of the processes sharing a PostgreSQL store acts (the others stand by).

One row in the table `lease`, name 'acting'. A process takes it when it has no holder or
its holder let it expire, and then renews it well before it expires. Every change of holder
adds one to `token`, the fencing token: the store checks it at the start of every write
transaction (`store.db.PostgresStore.transaction`), so a process that lost the lease cannot
write any more, whatever it believes.

Times are the database's clock (`clock_timestamp()`, in ms since 1970), never the
processes': two machines whose clocks disagree still agree on who acts. The process keeps its
own deadline on its monotonic clock, from before it asked (bot/lease.py): it stops acting
before the database lets anyone else take over.

Taking over waits for the writes of the previous holder that are under way: they hold the
row FOR KEY SHARE, and a takeover locks it FOR UPDATE. A renewal changes no key and does
not wait for them.

PostgreSQL only: a SQLite store has one process, which always acts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from homeward.store.changes import bookkeeping
from homeward.store.sql import Connection

#: The database's clock in ms since 1970 (PostgreSQL).
NOW_MS = "(extract(epoch from clock_timestamp()) * 1000)::bigint"
NAME = "acting"


@dataclass(frozen=True)
class LeaseState:
    """The lease as the database has it, with the database's time of reading."""

    holder: str
    device_id: str | None
    token: int
    since: str
    reason: str
    renewed_at: str
    expires_ms: int
    now_ms: int

    @property
    def expired(self) -> bool:
        return self.expires_ms <= self.now_ms

    @property
    def seconds_left(self) -> float:
        return (self.expires_ms - self.now_ms) / 1000


def _state(row: tuple) -> LeaseState:
    return LeaseState(*row)


async def read(db: Connection) -> LeaseState | None:
    """The current lease (None: no process ever acted), read outside any transaction."""
    rows = list(
        await db.execute_fetchall(
            "SELECT holder, device_id, token, since, reason, renewed_at, expires_ms,"
            f" {NOW_MS} AS now_ms FROM lease WHERE name = ?",
            (NAME,),
        )
    )
    return _state(tuple(rows[0])) if rows else None


@bookkeeping
async def try_acquire(
    db: Connection, holder: str, device_id: str | None, ttl_s: float
) -> tuple[int, LeaseState | None] | None:
    """Take the lease if nobody holds it or its holder let it expire: (token, the lease before), or None.

    `db` is a connection of the caller's own (not the store's), in autocommit mode.
    """
    now = datetime.now(UTC).isoformat()
    ttl_ms = int(ttl_s * 1000)
    await db.execute("BEGIN")
    try:
        await db.execute(
            "INSERT INTO lease (name, holder, device_id, token, since, reason, renewed_at, expires_ms)"
            " VALUES (?, '', NULL, 0, '', '', '', 0) ON CONFLICT DO NOTHING",
            (NAME,),
        )
        # FOR UPDATE: waits until the writes the previous holder has under way are committed.
        rows = list(
            await db.execute_fetchall(
                "SELECT holder, device_id, token, since, reason, renewed_at, expires_ms,"
                f" {NOW_MS} AS now_ms FROM lease WHERE name = ? FOR UPDATE",
                (NAME,),
            )
        )
        before = _state(tuple(rows[0]))
        if not before.expired:
            await db.execute("ROLLBACK")
            return None
        reason = "first" if not before.holder else ("released" if before.expires_ms == 0 else "expired")
        rows = list(
            await db.execute_fetchall(
                "UPDATE lease SET holder = ?, device_id = ?, token = token + 1, since = ?, reason = ?,"
                f" renewed_at = ?, expires_ms = {NOW_MS} + ? WHERE name = ? RETURNING token",
                (holder, device_id, now, reason, now, ttl_ms, NAME),
            )
        )
        await db.execute("COMMIT")
    except BaseException:
        await db.execute("ROLLBACK")
        raise
    return int(rows[0][0]), (before if before.holder else None)


@bookkeeping
async def renew(db: Connection, token: int, ttl_s: float) -> bool:
    """Extend the lease held with `token` by `ttl_s` from now; False when it is no longer ours."""
    cur = await db.execute(
        f"UPDATE lease SET renewed_at = ?, expires_ms = {NOW_MS} + ? WHERE name = ? AND token = ?",
        (datetime.now(UTC).isoformat(), int(ttl_s * 1000), NAME, token),
    )
    return cur.rowcount == 1


@bookkeeping
async def release(db: Connection, token: int) -> bool:
    """Give the lease up at once (a clean stop): a standby takes over without waiting for it to expire."""
    cur = await db.execute("UPDATE lease SET expires_ms = 0 WHERE name = ? AND token = ?", (NAME, token))
    return cur.rowcount == 1
