"""The SQLite connection: a statement and its rows in one call to aiosqlite's thread."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from homeward.store.sqlite import SqliteConnection


@pytest.fixture
async def db(tmp_path: Path) -> Any:
    connection = await SqliteConnection.connect(tmp_path / "t.sqlite3")
    await connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT)")
    yield connection
    await connection.close()


async def test_a_query_with_its_rows_is_one_call_to_the_connections_thread(db: SqliteConnection) -> None:
    await db.execute("INSERT INTO t (name) VALUES ('a'), ('b')")
    calls = 0
    run = db.raw._execute

    async def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return await run(*args, **kwargs)

    db.raw._execute = counted  # type: ignore[method-assign]
    async with db.execute("SELECT name FROM t ORDER BY id") as cur:
        first = await cur.fetchone()
        rest = await cur.fetchall()
    assert (first["name"], [row[0] for row in rest], calls) == ("a", ["b"], 1)


async def test_an_insert_gives_its_id_and_an_update_the_number_of_rows_it_changed(db: SqliteConnection) -> None:
    first = await db.execute("INSERT INTO t (name) VALUES (?)", ("a",))
    second = await db.execute("INSERT INTO t (name) VALUES (?)", ("b",))
    changed = await db.execute("UPDATE t SET name = 'c'")
    assert (first.lastrowid, second.lastrowid, changed.rowcount) == (1, 2, 2)


async def test_a_failing_statement_raises_sqlites_own_error(db: SqliteConnection) -> None:
    import sqlite3

    with pytest.raises(sqlite3.OperationalError):
        await db.execute("SELECT nothing FROM nowhere")
