"""The audit trail and the consent answers as hash chains, so that a change made behind the application's back shows.

The triggers refuse UPDATE and DELETE from the application, not from someone holding the
file: they can drop a trigger, rewrite a guardian's "no" as "yes" and put the trigger
back. So each row also carries `prev_hash`, the hash of the row before it in the same
case, and `hash`, SHA-256 over the canonical JSON (`canonicaljson`, the Matrix
specification's canonical form) of its own fields and `prev_hash`. Both are computed in
the transaction that inserts the row. A row changed afterwards no longer matches its
hash; a row removed, inserted or moved breaks the link of the row after it.

What the chain cannot do: someone who rewrites a row *and* recomputes every hash after it
leaves a chain that verifies. That shows only against a chain head kept elsewhere — the
head and each row's hash are in every `!audit` CSV posted into the (encrypted) room.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from canonicaljson import encode_canonical_json

from homeward.store.changes import bookkeeping
from homeward.store.sql import POSTGRESQL, SQLITE, Connection, Row, dialect

#: `prev_hash` of the first row of a case's chain.
GENESIS = "0" * 64

#: The chained tables and the fields each row's hash covers (every column but the two hashes).
CHAINS: dict[str, tuple[str, ...]] = {
    "audit": ("id", "case_id", "room_id", "at", "actor", "actor_lane", "action", "details", "event_id"),
    "consent_answers": ("id", "case_id", "consent_id", "user_id", "answer", "at", "event_id"),
}


def row_hash(table: str, fields: dict[str, Any], prev_hash: str) -> str:
    """SHA-256 (hex) of the row's canonical JSON: the table, every covered field, and the previous row's hash."""
    payload = {"table": table, **{name: fields[name] for name in CHAINS[table]}, "prev_hash": prev_hash}
    return hashlib.sha256(encode_canonical_json(payload)).hexdigest()


def _same_case(case_id: int | None) -> tuple[str, tuple[int, ...]]:
    """The condition (and its parameter) for one case's rows, or the rows outside any case: both use the index."""
    return ("case_id IS NULL", ()) if case_id is None else ("case_id = ?", (case_id,))


async def head(db: Connection, table: str, case_id: int | None) -> str:
    """The hash of the case's last row in `table` (GENESIS when it has none)."""
    _check(table)
    where, params = _same_case(case_id)
    async with db.execute(f"SELECT hash FROM {table} WHERE {where} ORDER BY id DESC LIMIT 1", params) as cur:
        row = await cur.fetchone()
    return row["hash"] if row and row["hash"] else GENESIS


#: The id the next row of a table will get, read in the write transaction before inserting it (the hash covers it).
_NEXT_ID = {
    # SQLite: one past the largest id ever handed out (AUTOINCREMENT's sqlite_sequence) or present.
    SQLITE: "max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = '{table}'), 0),"
    " coalesce((SELECT max(id) FROM {table}), 0)) + 1",
    # PostgreSQL: taken from the identity's sequence (the row is then inserted with it).
    POSTGRESQL: "nextval(pg_get_serial_sequence('{table}', 'id'))",
}


@bookkeeping
async def append(db: Connection, table: str, values: dict[str, Any]) -> int:
    """Insert one row chained to the case's last one; its id. Call inside the write transaction."""
    _check(table)
    where, params = _same_case(values["case_id"])
    # One round trip: the audit row is on every command's path.
    (found,) = await db.execute_fetchall(
        f"SELECT (SELECT hash FROM {table} WHERE {where} ORDER BY id DESC LIMIT 1) AS head,"
        f" {_NEXT_ID[dialect(db)].format(table=table)} AS next_id",
        params,
    )
    fields = {**values, "id": found["next_id"]}
    prev = found["head"] or GENESIS
    columns = [*CHAINS[table], "prev_hash", "hash"]
    row = [fields[name] for name in CHAINS[table]] + [prev, row_hash(table, fields, prev)]
    await db.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", row)
    return int(fields["id"])


@dataclass(frozen=True)
class Break:
    """The first row of a case's chain that does not verify."""

    table: str
    row_id: int
    case_id: int | None
    # "changed": the row no longer matches its hash; "unlinked": a row before it was changed, removed or inserted
    reason: str

    def describe(self) -> str:
        what = {
            "changed": "its content does not match its hash (the row was changed)",
            "unlinked": (
                "it does not follow the row before it in its case (a row before it was changed, removed or inserted)"
            ),
        }[self.reason]
        return f"{self.table} row {self.row_id} (case {self.case_id if self.case_id is not None else '-'}): {what}"


@dataclass(frozen=True)
class ChainState:
    """One case's chain in one table: how many rows, the head, and the first break if any."""

    rows: int
    head: str
    broken: Break | None


async def verify(db: Connection) -> dict[tuple[str, int | None], ChainState]:
    """Walk every case's chains and say where each breaks first; keyed by (table, case id)."""
    return await _walk(db, None)


async def verify_case(db: Connection, case_id: int) -> dict[str, ChainState]:
    """One case's chains, by table (a table where the case has no rows: 0 rows, GENESIS)."""
    states = await _walk(db, case_id)
    return {table: states.get((table, case_id), ChainState(0, GENESIS, None)) for table in CHAINS}


async def _walk(db: Connection, case_id: int | None) -> dict[tuple[str, int | None], ChainState]:
    states: dict[tuple[str, int | None], ChainState] = {}
    for table in CHAINS:
        async for row in _rows(db, table, case_id):
            key = (table, row["case_id"])
            state = states.get(key, ChainState(0, GENESIS, None))
            broken = state.broken
            if broken is None:
                if row["prev_hash"] != state.head:
                    broken = Break(table, row["id"], row["case_id"], "unlinked")
                elif row["hash"] != row_hash(table, dict(row), row["prev_hash"]):
                    broken = Break(table, row["id"], row["case_id"], "changed")
            states[key] = ChainState(state.rows + 1, row["hash"] or GENESIS, broken)
    return states


def first_breaks(states: dict[tuple[str, int | None], ChainState]) -> list[Break]:
    """Every break found, in table then row order."""
    breaks = [state.broken for state in states.values() if state.broken is not None]
    return sorted(breaks, key=lambda b: (list(CHAINS).index(b.table), b.row_id))


@bookkeeping
async def chain_existing_rows(db: Connection) -> None:
    """Migration: chain the rows written before the chain existed, in id order per case.

    The append-only triggers are dropped for the length of this transaction and put back
    exactly as they were; the hash columns are filled only where they are empty.
    """
    for table, triggers in _TRIGGERS.items():
        for name in triggers:
            await db.execute(f"DROP TRIGGER IF EXISTS {name}")
        heads: dict[int | None, str] = {}
        async with db.execute(f"SELECT * FROM {table} ORDER BY id") as cur:
            rows = [dict(r) for r in await cur.fetchall()]
        for row in rows:
            prev = heads.get(row["case_id"], GENESIS)
            if row["hash"] is None:
                row["prev_hash"], row["hash"] = prev, row_hash(table, row, prev)
                await db.execute(
                    f"UPDATE {table} SET prev_hash = ?, hash = ? WHERE id = ?",
                    (row["prev_hash"], row["hash"], row["id"]),
                )
            heads[row["case_id"]] = row["hash"]
        for sql in triggers.values():
            await db.execute(sql)


# The append-only triggers of migrations 2 and 4, word for word: re-created after chaining existing rows.
_TRIGGERS: dict[str, dict[str, str]] = {
    "audit": {
        "audit_no_update": "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
        " BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
        "audit_no_delete": "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
        " BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
    },
    "consent_answers": {
        "consent_answers_no_update": "CREATE TRIGGER consent_answers_no_update BEFORE UPDATE ON consent_answers"
        " BEGIN SELECT RAISE(ABORT, 'consent answers are never changed'); END",
        "consent_answers_no_delete": "CREATE TRIGGER consent_answers_no_delete BEFORE DELETE ON consent_answers"
        " BEGIN SELECT RAISE(ABORT, 'consent answers are never deleted'); END",
    },
}


async def _rows(db: Connection, table: str, case_id: int | None) -> AsyncIterator[Row]:
    """The table's rows in id order: all of them, or one case's (`case_id` not None)."""
    _check(table)
    params: tuple[int, ...]
    if case_id is None:
        query, params = f"SELECT * FROM {table} ORDER BY id", ()
    else:
        query, params = f"SELECT * FROM {table} WHERE case_id = ? ORDER BY id", (case_id,)
    async with db.execute(query, params) as cur:
        while batch := await cur.fetchmany(500):
            for row in batch:
                yield row


def _check(table: str) -> None:
    if table not in CHAINS:
        raise ValueError(f"{table!r} is not a chained table")
