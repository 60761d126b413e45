"""The database of a Homeward bot: SQLite by default, or PostgreSQL; connection, migrations, transactions.

All writes go through `Store.transaction()`, which takes the write lock up front so that a
state change, its audit rows, its outgoing messages and the "event handled" mark are
committed together or not at all.

- SQLite (`database = "sqlite"`, the file `data_dir/homeward.sqlite3`): aiosqlite with WAL (store/sqlite.py);
  BEGIN IMMEDIATE takes the write lock. One process.
- PostgreSQL (`database = "postgresql://…"`): psycopg 3 (store/postgres.py), the same SQL
  translated (store/sql.py). Several processes may share it; one acts at a time, chosen by
  the lease (store/lease.py). Every write transaction of a shared store begins by reading
  the lease's fencing token (row lock FOR KEY SHARE): if another process has taken the lease
  since this one got it, the transaction is refused (`NotActing`) and rolled back, so a
  process cut off from the lease never writes beside the one that acts.

The schema is one list of migrations for both engines (store/migrations.py); SQLite keeps
the number applied in `PRAGMA user_version`, PostgreSQL in the table `homeward_schema`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

from homeward.store.migrations import MIGRATIONS
from homeward.store.rows import one_row
from homeward.store.sql import POSTGRESQL, SQLITE, ClosableConnection, Connection
from homeward.store.sqlite import SqliteConnection

log = logging.getLogger(__name__)

#: The PostgreSQL advisory lock taken while migrating, so two processes starting at once migrate once.
MIGRATION_LOCK = 0x486F6D65  # "Home"
#: How long reconnecting to PostgreSQL may take before the store is called unavailable for now.
CONNECT_TIMEOUT_S = 5.0


class StoreError(Exception):
    """The database cannot be used by this version of Homeward."""


class StoreUnavailable(Exception):
    """The database cannot be reached right now (PostgreSQL down, failing over, the network cut): try again later."""


class NotActing(Exception):
    """A write on a shared store by a process that does not hold the lease (or lost it): refused, rolled back."""


@dataclass(frozen=True)
class Fence:
    """The lease this process holds: every write transaction checks that `token` is still the current one."""

    holder: str
    token: int


def is_postgresql(database: str) -> bool:
    return database.startswith(("postgresql://", "postgres://"))


def redacted(url: str) -> str:
    """A database URL without its password, for logs and messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


async def open_store(database: str, data_dir: Path) -> Store:
    """The configured store: "sqlite" (the file in `data_dir`) or a PostgreSQL URL."""
    if is_postgresql(database):
        return await PostgresStore.open_url(database)
    return await Store.open(data_dir / "homeward.sqlite3")


class Store:
    """Owns the connection; repositories take a connection from `transaction()` or `read()`."""

    dialect = SQLITE
    #: Several processes share this store (PostgreSQL): writes need the lease's fence.
    shared = False

    def __init__(self, db: Any, path: Path | None) -> None:
        self._db = db
        self._lock = asyncio.Lock()
        self.path = path
        self.fence: Fence | None = None

    @property
    def where(self) -> str:
        """The store, for messages: the file, or the URL without password."""
        return str(self.path)

    @classmethod
    async def open(cls, path: Path) -> Store:
        """Open (creating with owner-only permissions) and migrate the SQLite database at `path`."""
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
            os.close(fd)
        os.chmod(path, 0o600)
        db = await SqliteConnection.connect(path)
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=FULL")
        await db.execute("PRAGMA foreign_keys=ON")
        await db.execute("PRAGMA busy_timeout=5000")
        # Cleared or deleted content (a sent message, a replaced edit) is overwritten with zeros,
        # not left in free pages; `checkpoint` then empties the WAL that still holds older copies.
        await db.execute("PRAGMA secure_delete=ON")
        store = Store(db, path)
        try:
            await store._migrate()
            await store.checkpoint()
        except BaseException:
            await db.close()
            raise
        return store

    async def close(self) -> None:
        try:
            await self.checkpoint()
        finally:
            await self._db.close()

    async def checkpoint(self) -> None:
        """Copy the WAL into the database file and empty it.

        The WAL keeps each page as it was written, including a message's content before it
        was cleared: after this, cleared content is gone from both files.
        """
        async with self._lock:
            try:
                await self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.OperationalError as exc:  # e.g. a transaction left open by a cancelled task
                log.warning("the WAL was not emptied this time (%s); it will be at the next checkpoint", exc)

    async def schema_version(self) -> int:
        async with self._db.execute("PRAGMA user_version") as cur:
            (version,) = await one_row(cur)
        return int(version)

    async def _migrate(self) -> None:
        version = await self.schema_version()
        known = len(MIGRATIONS)
        if version > known:
            raise StoreError(
                f"{self.where}: the database has schema version {version}, but this Homeward knows "
                f"only up to {known}. It was written by a newer Homeward: upgrade Homeward, "
                "or restore a backup made for this version."
            )
        for number in range(version + 1, known + 1):
            await self._db.execute("BEGIN IMMEDIATE")
            migration = MIGRATIONS[number - 1]
            try:
                if isinstance(migration, str):
                    await _executescript(self._db, migration)
                else:
                    await migration(self._db)
                await self._db.execute(f"PRAGMA user_version = {number}")
                await self._db.execute("COMMIT")
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise
            log.info("store migrated to schema %d", number)

    @asynccontextmanager
    async def transaction(self, *, fenced: bool = True) -> AsyncIterator[Connection]:
        """One atomic unit of work; everything inside commits together or not at all.

        On a shared store it is refused with `NotActing` unless this process holds the lease
        (`fenced=False`: a row of this process's own, such as its device's sync position).
        """
        async with self._lock:
            try:
                # Inside the try: a task cancelled while BEGIN is on its way still rolls back (the
                # statements run in order on the connection's thread), never leaving a transaction open.
                await self._db.execute("BEGIN IMMEDIATE")
                yield self._db
            except BaseException:
                with contextlib.suppress(sqlite3.OperationalError):  # BEGIN itself failed: nothing to roll back
                    await self._db.execute("ROLLBACK")
                raise
            else:
                await self._db.execute("COMMIT")

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Connection]:
        """A consistent read; serialised with writes since the connection is shared."""
        async with self._lock:
            yield self._db


class PostgresStore(Store):
    """The store on PostgreSQL: a connection for transactions and one for reads (a read never waits behind a
    transaction, as on SQLite's WAL), each reconnected when it broke; writes fenced by the lease."""

    dialect = POSTGRESQL
    shared = True

    def __init__(self, db: Any, url: str) -> None:
        super().__init__(db, None)
        self.url = url
        self._reader: Any = None
        self._read_lock = asyncio.Lock()

    @property
    def where(self) -> str:
        return redacted(self.url)

    @classmethod
    async def open_url(cls, url: str) -> PostgresStore:
        """Connect to the database at `url` and migrate it (one process at a time: an advisory lock)."""
        db = await _pg_connect(url)
        store = cls(db, url)
        try:
            await store._migrate()
        except BaseException:
            await db.close()
            raise
        return store

    async def close(self) -> None:
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await self._reader.close()
        await self._db.close()

    async def take_lease(self, holder: str, ttl_s: float) -> bool:
        """Act without a lease loop (tools, tests): take the lease for `ttl_s` if it is free; True if taken."""
        from homeward.store import lease

        async with self._lock:
            taken = await lease.try_acquire(self._db, holder, None, ttl_s)
        if taken is None:
            return False
        self.fence = Fence(holder, taken[0])
        return True

    async def release_lease(self) -> None:
        """Give back the lease `take_lease` took."""
        from homeward.store import lease

        if self.fence is not None:
            async with self._lock:
                await lease.release(self._db, self.fence.token)
            self.fence = None

    async def advance_identities(self) -> None:
        """Generated ids go on from the largest present (after rows were written with their ids)."""
        async with self._lock:
            await self._db.refresh_identity_tables()
            await _advance_identities(self._db)

    async def checkpoint(self) -> None:
        """Nothing to do: PostgreSQL's WAL is recycled by the server (DEPLOYMENT.md, "What stays on disk")."""

    async def schema_version(self) -> int:
        raw = self._db.raw
        await raw.execute("CREATE TABLE IF NOT EXISTS homeward_schema (version BIGINT NOT NULL)")
        cur = await raw.execute("SELECT version FROM homeward_schema")
        row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def _migrate(self) -> None:
        raw = self._db.raw
        await raw.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        try:
            version = await self.schema_version()
            known = len(MIGRATIONS)
            if version > known:
                raise StoreError(
                    f"{self.where}: the database has schema version {version}, but this Homeward knows "
                    f"only up to {known}. It was written by a newer Homeward: upgrade Homeward, "
                    "or restore a backup made for this version."
                )
            for number in range(version + 1, known + 1):
                migration = MIGRATIONS[number - 1]
                await raw.execute("BEGIN")
                try:
                    if isinstance(migration, str):
                        await _executescript(self._db, migration)
                    else:
                        await migration(self._db)
                    if number == known:  # rows copied with their ids (a table rebuilt): generated ids follow them
                        await self._db.refresh_identity_tables()
                        await _advance_identities(self._db)
                    await raw.execute("DELETE FROM homeward_schema")
                    await raw.execute("INSERT INTO homeward_schema (version) VALUES (%s)", (number,))
                    await raw.execute("COMMIT")
                except BaseException:
                    await raw.execute("ROLLBACK")
                    raise
                log.info("store migrated to schema %d", number)
        finally:
            await raw.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
        await self._db.refresh_identity_tables()

    async def _reconnect_if_broken(self) -> None:
        if self._db.broken:
            log.warning("the connection to PostgreSQL was lost; connecting again")
            with contextlib.suppress(Exception):
                await self._db.close()
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT_S):
                    self._db = await _pg_connect(self.url)
            except (StoreError, TimeoutError) as exc:
                raise StoreUnavailable(f"{self.where}: cannot connect to PostgreSQL") from exc

    @asynccontextmanager
    async def transaction(self, *, fenced: bool = True) -> AsyncIterator[Connection]:
        async with self._lock:
            await self._reconnect_if_broken()
            raw = self._db.raw
            try:
                if fenced:
                    # One round trip: the transaction and the lease row, locked against a takeover
                    # (FOR KEY SHARE lets the holder renew, makes a takeover wait for this commit).
                    cur = await raw.execute(b"BEGIN; SELECT token FROM lease WHERE name = 'acting' FOR KEY SHARE")
                    cur.nextset()
                    row = await cur.fetchone()
                    if self.fence is None or row is None or int(row[0]) != self.fence.token:
                        raise NotActing(
                            "this process does not hold the lease"
                            if self.fence is None
                            else "another process took the lease: this one no longer acts"
                        )
                else:
                    await raw.execute(b"BEGIN")
                yield self._db
                await raw.execute(b"COMMIT")
            except BaseException as exc:
                if not self._db.broken:
                    with contextlib.suppress(Exception):
                        await raw.execute(b"ROLLBACK")
                if _lost_connection(exc):
                    raise StoreUnavailable(f"{self.where}: the connection to PostgreSQL was lost") from exc
                raise

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Connection]:
        """Committed data, on the reading connection (autocommit: each statement sees what was committed)."""
        async with self._read_lock:
            if self._reader is None or self._reader.broken:
                if self._reader is not None:
                    with contextlib.suppress(Exception):
                        await self._reader.close()
                    self._reader = None
                try:
                    async with asyncio.timeout(CONNECT_TIMEOUT_S):
                        self._reader = await _pg_connect(self.url)
                except (StoreError, TimeoutError) as exc:
                    raise StoreUnavailable(f"{self.where}: cannot connect to PostgreSQL") from exc
            try:
                yield self._reader
            except BaseException as exc:
                if _lost_connection(exc):
                    raise StoreUnavailable(f"{self.where}: the connection to PostgreSQL was lost") from exc
                raise


def _lost_connection(exc: BaseException) -> bool:
    """Whether `exc` is the database going away (not an error of the statement, which is the caller's to see)."""
    import psycopg

    return isinstance(exc, psycopg.OperationalError) and not isinstance(exc, psycopg.errors.QueryCanceled)


async def _pg_connect(url: str) -> Any:
    from homeward.store.postgres import PgConnection

    try:
        return await PgConnection.connect(url)
    except Exception as exc:  # psycopg.OperationalError: unreachable, refused, wrong password
        raise StoreError(
            f"{redacted(url)}: cannot connect to PostgreSQL ({str(exc).strip().splitlines()[0]})"
        ) from None


async def _advance_identities(db: Any) -> None:
    """After rows were copied with their ids (a table rebuilt), the next generated id follows the largest."""
    for table in sorted(db.identity_tables):
        await db.raw.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table} HAVING max(id) IS NOT NULL"
        )


async def open_read_only(database: str | Path) -> ClosableConnection:
    """The database for reading only (`homeward verify-audit`, `homeward status`): a SQLite file or a PostgreSQL URL.

    Never migrated, never written, safe beside a running bot.
    """
    if isinstance(database, str) and is_postgresql(database):
        db = await _pg_connect(database)
        await db.raw.execute("SET default_transaction_read_only = on")
        cur = await db.raw.execute(
            "SELECT count(*) FROM information_schema.tables"
            " WHERE table_schema = current_schema() AND table_name = 'homeward_schema'"
        )
        (exists,) = await cur.fetchone()
        version = 0
        if exists:
            cur = await db.raw.execute("SELECT version FROM homeward_schema")
            row = await cur.fetchone()
            version = int(row[0]) if row else 0
        where = redacted(database)
    else:
        path = Path(database)
        if not path.exists():
            raise StoreError(f"{path}: no database there (is data_dir right?)")
        db = await SqliteConnection.connect(f"file:{path}?mode=ro", uri=True)
        async with db.execute("PRAGMA user_version") as cur:
            (version,) = await one_row(cur)
        where = str(path)
    if version != len(MIGRATIONS):
        await db.close()
        raise StoreError(
            f"{where}: the database has schema version {version}, this Homeward reads version {len(MIGRATIONS)}: "
            + (
                "start this Homeward once to migrate it (that also chains the rows written before), then verify again."
                if version < len(MIGRATIONS)
                else "it was written by a newer Homeward; verify it with that one."
            )
        )
    return cast(ClosableConnection, db)


async def _executescript(db: Connection, script: str) -> None:
    """Run a multi-statement script inside the current transaction (executescript would commit)."""
    for statement in _split_sql(script):
        await db.execute(statement)


def _split_sql(script: str) -> list[str]:
    statements: list[str] = []
    current = ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                statements.append(current.strip())
            current = ""
    if current.strip() and not current.strip().startswith("--"):
        statements.append(current.strip())
    return statements
