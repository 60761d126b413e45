"""The one SQLite database of a Homeward bot: connection, migrations, transactions.

aiosqlite with WAL. All writes go through `Store.transaction()`, which takes the write
lock up front (BEGIN IMMEDIATE) so that a state change, its audit rows, its outgoing
messages and the "event handled" mark are committed together or not at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite

from homeward.store.migrations import MIGRATIONS
from homeward.store.rows import one_row

log = logging.getLogger(__name__)


class StoreError(Exception):
    """The database cannot be used by this version of Homeward."""


class Store:
    """Owns the connection; repositories take a connection from `transaction()` or `read()`."""

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self._lock = asyncio.Lock()
        self.path = path

    @classmethod
    async def open(cls, path: Path) -> Store:
        """Open (creating with owner-only permissions) and migrate the database."""
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
            os.close(fd)
        os.chmod(path, 0o600)
        db = await aiosqlite.connect(path, isolation_level=None)
        db.row_factory = aiosqlite.Row
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=FULL")
        await db.execute("PRAGMA foreign_keys=ON")
        await db.execute("PRAGMA busy_timeout=5000")
        # Cleared or deleted content (a sent message, a replaced edit) is overwritten with zeros,
        # not left in free pages; `checkpoint` then empties the WAL that still holds older copies.
        await db.execute("PRAGMA secure_delete=ON")
        store = cls(db, path)
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

    async def _migrate(self) -> None:
        async with self._db.execute("PRAGMA user_version") as cur:
            (version,) = await one_row(cur)
        known = len(MIGRATIONS)
        if version > known:
            raise StoreError(
                f"{self.path}: the database has schema version {version}, but this Homeward knows "
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
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One atomic unit of work; everything inside commits together or not at all."""
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
    async def read(self) -> AsyncIterator[aiosqlite.Connection]:
        """A consistent read; serialised with writes since the connection is shared."""
        async with self._lock:
            yield self._db


async def open_read_only(path: Path) -> aiosqlite.Connection:
    """The database for reading only (`homeward verify-audit`).

    Never migrated, never written, safe beside a running bot.
    """
    if not path.exists():
        raise StoreError(f"{path}: no database there (is data_dir right?)")
    db = await aiosqlite.connect(f"file:{path}?mode=ro", uri=True)
    db.row_factory = aiosqlite.Row
    async with db.execute("PRAGMA user_version") as cur:
        (version,) = await one_row(cur)
    if version != len(MIGRATIONS):
        await db.close()
        raise StoreError(
            f"{path}: the database has schema version {version}, this Homeward reads version {len(MIGRATIONS)}: "
            + (
                "start this Homeward once to migrate it (that also chains the rows written before), then verify again."
                if version < len(MIGRATIONS)
                else "it was written by a newer Homeward; verify it with that one."
            )
        )
    return db


async def _executescript(db: aiosqlite.Connection, script: str) -> None:
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
