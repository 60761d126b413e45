"""`homeward migrate-store`: a SQLite store moved into an empty PostgreSQL one, every row with its id.

Both are brought to the same schema first (the SQLite file migrated in place, as starting
this Homeward on it would). Then every table is copied in one transaction on PostgreSQL,
cases first (the other tables refer to them), rows in id order; the audit trail and the
consent answers go in as they are, hashes and all (the append-only triggers refuse changes,
not inserts). The identities then go on from the largest id copied, the row counts are
compared table by table, and the hash chains are walked on the copy: the result says
whether every chain verifies and ends at the same head as in the file.

The PostgreSQL store must be empty (no case, no message, no audit row) and no process may
act on it: the copy takes its lease for the duration.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from homeward.store import chain
from homeward.store.changes import bookkeeping
from homeward.store.db import PostgresStore, Store, StoreError
from homeward.store.sql import Connection

#: The bookkeeping tables that are never copied (each engine keeps its own).
NOT_COPIED = {"homeward_schema", "lease", "sqlite_sequence"}
BATCH = 1000


@dataclass(frozen=True)
class Copied:
    rows: dict[str, int]  # table → rows copied
    chains: int  # case chains walked on the copy
    breaks: list[chain.Break]  # where a chain of the copy does not verify (none, unless the file was tampered with)
    same_heads: bool  # every chain ends at the same hash as in the file


@bookkeeping  # a tool's copy of a whole store, outside any unit of work: it changes no case
async def migrate_store(source: Path, url: str, holder: str = "homeward migrate-store") -> Copied:
    """Copy the SQLite store at `source` into the empty PostgreSQL store at `url`."""
    if not source.exists():
        raise StoreError(f"{source}: no database there")
    sqlite = await Store.open(source)
    target = await PostgresStore.open_url(url)
    try:
        if not await target.take_lease(holder, ttl_s=3600):
            raise StoreError(f"{target.where}: a Homeward process acts on this store; stop it before migrating into it")
        async with target.read() as db:
            for table in ("cases", "outbox", "audit", "consent_answers"):
                rows = list(await db.execute_fetchall(f"SELECT count(*) FROM {table}"))
                if rows[0][0]:
                    raise StoreError(f"{target.where}: not empty ({table} has rows); migrate into an empty database")
        async with sqlite.read() as db:
            tables = [
                r[0]
                for r in await db.execute_fetchall(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
                )
                if r[0] not in NOT_COPIED
            ]
        tables.sort(key=lambda t: (t != "cases", t))
        counts: dict[str, int] = {}
        async with target.transaction() as into:
            await into.execute("DELETE FROM kv")  # what opening the empty store may have written
            for table in tables:
                counts[table] = await _copy_table(sqlite, into, table)
        await target.advance_identities()
        async with target.read() as db:
            for table, count in counts.items():
                rows = list(await db.execute_fetchall(f"SELECT count(*) FROM {table}"))
                if rows[0][0] != count:
                    raise StoreError(f"{table}: {count} rows in the file, {rows[0][0]} in PostgreSQL")
            copied = await chain.verify(db)
        async with sqlite.read() as db:
            original = await chain.verify(db)
        await target.release_lease()
    finally:
        await sqlite.close()
        await target.close()
    return Copied(
        rows=counts,
        chains=len(copied),
        breaks=chain.first_breaks(copied),
        same_heads={k: s.head for k, s in copied.items()} == {k: s.head for k, s in original.items()},
    )


async def _copy_table(sqlite: Store, into: Connection, table: str) -> int:
    async with sqlite.read() as db, db.execute(f"SELECT * FROM {table}") as cur:
        rows = [tuple(r) for r in await cur.fetchall()]
        columns = [d[0] for d in getattr(cur, "description", ())]
    if not rows:
        return 0
    if "id" in columns:
        rows.sort(key=lambda r: r[columns.index("id")])
    insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    for start in range(0, len(rows), BATCH):
        await into.executemany(insert, rows[start : start + BATCH])
    return len(rows)
