"""The store's connection on SQLite: aiosqlite, with each statement and its rows in one call to its thread.

aiosqlite runs every call on the connection's own thread; each call is a thread switch there
and back (a queue put, the thread taking the GIL, a callback into the event loop through its
self-pipe). Its cursor makes a query three calls: `execute`, `fetchone`/`fetchall` and
`close`. `SqliteConnection.execute` runs the statement and fetches its rows in one call, and
returns them as a `FetchedCursor` (the shape PostgreSQL's connection returns too). On a
loaded machine a call costs 0.1–0.3 ms (bench/commands.py); an `!ack` makes about twenty.

It reaches aiosqlite's `Connection._execute` (run a function on the connection's thread),
which every public method of aiosqlite uses; `tests/test_store_sqlite.py` fails at once if
an aiosqlite release drops it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from typing import Any

import aiosqlite

from homeward.store.sql import SQLITE, FetchedCursor, Result


def _run(connection: sqlite3.Connection, sql: str, parameters: Any) -> FetchedCursor:
    """On the connection's thread: the statement, its rows, the rows it changed and the id it inserted."""
    cursor = connection.execute(sql, parameters)
    try:
        rows = cursor.fetchall() if cursor.description is not None else []
        return FetchedCursor(rows, cursor.rowcount, cursor.lastrowid, cursor.description)
    finally:
        cursor.close()


class SqliteConnection:
    """One aiosqlite connection (autocommit: `Store` opens and closes the transactions); rows as sqlite3.Row."""

    dialect = SQLITE

    def __init__(self, raw: aiosqlite.Connection) -> None:
        self.raw = raw
        raw.row_factory = sqlite3.Row

    @classmethod
    async def connect(cls, database: str | Any, **kwargs: Any) -> SqliteConnection:
        return cls(await aiosqlite.connect(database, isolation_level=None, **kwargs))

    def execute(self, sql: str, parameters: Iterable[Any] = ()) -> Result:
        return Result(self._call(_run, sql, parameters))

    async def execute_fetchall(self, sql: str, parameters: Iterable[Any] = ()) -> list[Any]:
        cursor = await self._call(_run, sql, parameters)
        return await cursor.fetchall()

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> None:
        await self.raw.executemany(sql, parameters)

    async def set_trace_callback(self, trace: Callable[[str], object] | None) -> None:
        """Call `trace` with every statement run (sqlite3's hook, for tests and benchmarks that count queries)."""
        await self.raw.set_trace_callback(trace)  # type: ignore[arg-type]  # sqlite3 takes None too: no trace

    async def close(self) -> None:
        await self.raw.close()

    async def _call(self, function: Callable[..., FetchedCursor], sql: str, parameters: Any) -> FetchedCursor:
        raw = self.raw
        return await raw._execute(function, raw._conn, sql, parameters)
