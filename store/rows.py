"""Rows that are always there: the one row of an aggregate or a PRAGMA, the id of a row just inserted.

aiosqlite types both as optional (a query may give no row; a statement may insert none);
for these statements an empty answer means the SQL is wrong, and says so.
"""

from __future__ import annotations

from homeward.store.sql import Cursor, Row


async def one_row(cur: Cursor) -> Row:
    """The row of a query that always gives one: `SELECT COUNT(*) …`, `SELECT MIN(…) …`, a PRAGMA."""
    row = await cur.fetchone()
    if row is None:
        raise LookupError("the query gave no row")
    return row


def inserted_id(cur: Cursor) -> int:
    """The id of the row the INSERT on `cur` added."""
    if cur.lastrowid is None:
        raise LookupError("the statement inserted no row")
    return int(cur.lastrowid)
