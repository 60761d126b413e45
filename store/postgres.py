"""The store's connection on PostgreSQL: psycopg 3 behind the interface the store functions use (aiosqlite's).

`PgConnection.execute(sql, params)` translates the statement once (`store.sql.to_postgresql`,
cached), runs it with psycopg's server-side binding, and returns a cursor whose rows read
by name or position like sqlite3.Row, whose `rowcount` is the rows changed and whose
`lastrowid` is the id an INSERT added. Python booleans go to the database as 0 and 1, as
SQLite stores them (the schema's flags are INTEGER columns).

Why psycopg 3 rather than asyncpg: both are well kept; psycopg speaks the DB-API shape the
store already uses (cursors, `rowcount`, `executemany`), prepares a statement by itself
once it has run a few times, and its binary wheel needs no compiler. asyncpg's own API
(`fetch`, `$1` placeholders, records) would need a second adapter of the same size.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

import psycopg
from psycopg.adapt import Dumper

from homeward.store.sql import POSTGRESQL, FetchedCursor, Result, to_postgresql


class PgRow(tuple[Any, ...]):
    """A row readable by column name and by position (sqlite3.Row's interface)."""

    _index: dict[str, int]

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            try:
                return tuple.__getitem__(self, self._index[key])
            except KeyError:
                raise IndexError(f"no such column: {key}") from None
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


def _row_factory(cursor: psycopg.AsyncCursor[Any]) -> Any:
    return _row_type(tuple(c.name for c in cursor.description or ()))


@functools.lru_cache(maxsize=1024)
def _row_type(names: tuple[str, ...]) -> type[PgRow]:
    return type("Row", (PgRow,), {"_index": {name: i for i, name in enumerate(names)}})


class _BoolAsInt(Dumper):
    """True/False as 1/0: SQLite has no booleans, and the schema's flags are integers on both engines."""

    oid = psycopg.postgres.types["int8"].oid

    def dump(self, obj: Any) -> bytes:
        return b"1" if obj else b"0"


class PgConnection:
    """One psycopg connection in autocommit mode; `Store` opens and closes its transactions."""

    dialect = POSTGRESQL

    def __init__(self, connection: psycopg.AsyncConnection[Any]) -> None:
        self.raw = connection
        connection.adapters.register_dumper(bool, _BoolAsInt)
        self.identity_tables: frozenset[str] = frozenset()
        self._trace: Callable[[str], object] | None = None

    @classmethod
    async def connect(cls, url: str, application_name: str = "homeward") -> PgConnection:
        # Keepalives and a TCP user timeout: a connection to a server that vanished (a cut network, a
        # machine gone) errors within seconds instead of hanging until the kernel gives up.
        raw = await psycopg.AsyncConnection.connect(
            url,
            autocommit=True,
            application_name=application_name,
            keepalives=1,
            keepalives_idle=5,
            keepalives_interval=2,
            keepalives_count=3,
            tcp_user_timeout=10_000,
        )
        connection = cls(raw)
        await connection.refresh_identity_tables()
        return connection

    async def refresh_identity_tables(self) -> None:
        """The tables whose `id` the database generates (an INSERT into one returns it): read after migrating."""
        cur = await self.raw.execute(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = current_schema()"
            " AND column_name = 'id' AND is_identity = 'YES'"
        )
        self.identity_tables = frozenset(name for (name,) in await cur.fetchall())

    async def set_trace_callback(self, trace: Callable[[str], object] | None) -> None:
        """Call `trace` with every statement run, as written (aiosqlite's hook, for tests that count queries)."""
        self._trace = trace

    def execute(self, sql: str, parameters: Any = None) -> Result:
        return Result(self._execute(sql, parameters))

    async def _execute(self, sql: str, parameters: Any) -> FetchedCursor:
        if self._trace is not None:
            self._trace(sql)
        params = _parameters(parameters)
        query, returning = to_postgresql(sql, params is not None, self.identity_tables)
        cur = self.raw.cursor(row_factory=_row_factory)
        await cur.execute(query.encode(), params)  # bytes: psycopg takes the statement as written (no Composable)
        rows = await cur.fetchall() if cur.description is not None else []
        lastrowid = rows[0][0] if returning and rows else None
        return FetchedCursor(rows if not returning else [], cur.rowcount, lastrowid)

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> None:
        batches = [tuple(p) for p in parameters]
        if not batches:
            return
        query, _ = to_postgresql(sql, True, frozenset())
        async with self.raw.cursor() as cur:
            await cur.executemany(query.encode(), batches)

    async def execute_fetchall(self, sql: str, parameters: Any = None) -> list[Any]:
        cur = await self._execute(sql, parameters)
        return await cur.fetchall()

    async def close(self) -> None:
        await self.raw.close()

    @property
    def broken(self) -> bool:
        return self.raw.broken or self.raw.closed


def _parameters(parameters: Any) -> tuple[Any, ...] | None:
    if parameters is None:
        return None
    values = tuple(parameters)
    return values if values else None
