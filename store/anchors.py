"""The audit chains' anchors: which rows of each case the bot last anchored in its room, and the comparison
of a case's chains with the anchors found in the room (`homeward verify-audit`).

An anchor (`homeward.audit_anchor`, posted by `work.anchors`) holds, for each of the case's two chains
(the audit rows, the consent answers), every row since the previous anchor as `[id, first 16 hex digits
of its hash]`, the chain's head (the full hash of its last row) and that row's id. SQL and comparison only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeward.store.chain import CHAINS
from homeward.store.changes import bookkeeping
from homeward.store.sql import Connection

#: How many hex digits of a row's hash an anchor lists (64 bits: no rewritten row matches by chance).
PREFIX = 16
#: At most this many rows per chain are listed in one anchor (a Matrix event holds 64 KiB); the head covers the rest.
MAX_ROWS = 1000


@dataclass(frozen=True)
class Due:
    """A case whose chains grew since its last anchor."""

    case_id: int
    room_id: str
    anchored_at: datetime | None
    after: dict[str, int]  # per chain: the last row id anchored (0: none)


async def due(db: Connection) -> list[Due]:
    """Every case with a room the bot is still in whose audit rows or consent answers grew since its last anchor."""
    async with db.execute(
        "SELECT c.id, c.room_id, a.anchored_at, coalesce(a.last_audit_id, 0) AS la,"
        " coalesce(a.last_answer_id, 0) AS lc,"
        " (SELECT max(id) FROM audit WHERE case_id = c.id) AS ma,"
        " (SELECT max(id) FROM consent_answers WHERE case_id = c.id) AS mc"
        " FROM cases c LEFT JOIN audit_anchors a ON a.case_id = c.id"
        " WHERE c.room_id IS NOT NULL AND c.purged_at IS NULL ORDER BY c.id"
    ) as cur:
        rows = await cur.fetchall()
    return [
        Due(
            r["id"],
            r["room_id"],
            datetime.fromisoformat(r["anchored_at"]) if r["anchored_at"] else None,
            {"audit": r["la"], "consent_answers": r["lc"]},
        )
        for r in rows
        if (r["ma"] or 0) > r["la"] or (r["mc"] or 0) > r["lc"]
    ]


async def chain_since(db: Connection, table: str, case_id: int, after: int) -> dict[str, Any] | None:
    """One chain's part of an anchor: the rows after `after` (at most MAX_ROWS, the latest), head and last id."""
    assert table in CHAINS
    async with db.execute(
        f"SELECT id, hash FROM {table} WHERE case_id = ? AND id > ? ORDER BY id DESC LIMIT ?",
        (case_id, after, MAX_ROWS),
    ) as cur:
        rows = list(await cur.fetchall())[::-1]
    async with db.execute(f"SELECT count(*) FROM {table} WHERE case_id = ?", (case_id,)) as cur:
        (count,) = await cur.fetchone()
    if not rows:
        async with db.execute(
            f"SELECT id, hash FROM {table} WHERE case_id = ? ORDER BY id DESC LIMIT 1", (case_id,)
        ) as cur:
            last = await cur.fetchone()
        if last is None:
            return None
        return {"rows": [], "last": last["id"], "head": last["hash"], "count": count}
    return {
        "rows": [[r["id"], (r["hash"] or "")[:PREFIX]] for r in rows],
        "last": rows[-1]["id"],
        "head": rows[-1]["hash"],
        "count": count,
    }


async def last_anchored(db: Connection, case_id: int) -> dict[str, int]:
    """Per chain: the last row id the case's anchors hold (0: none yet)."""
    async with db.execute(
        "SELECT last_audit_id, last_answer_id FROM audit_anchors WHERE case_id = ?", (case_id,)
    ) as cur:
        r = await cur.fetchone()
    return {"audit": r["last_audit_id"] if r else 0, "consent_answers": r["last_answer_id"] if r else 0}


@bookkeeping
async def record(db: Connection, case_id: int, audit_id: int, answer_id: int, now: datetime, outbox_id: int) -> None:
    await db.execute(
        "INSERT INTO audit_anchors (case_id, last_audit_id, last_answer_id, anchored_at, outbox_id)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (case_id) DO UPDATE SET last_audit_id = excluded.last_audit_id,"
        " last_answer_id = excluded.last_answer_id, anchored_at = excluded.anchored_at,"
        " outbox_id = excluded.outbox_id",
        (case_id, audit_id, answer_id, now.isoformat(), outbox_id),
    )


async def case_rooms(db: Connection) -> dict[str, int]:
    """Every case's room (those removed by retention too: their anchors stay in the room), room id → case id."""
    async with db.execute("SELECT id, room_id FROM cases WHERE room_id IS NOT NULL ORDER BY id") as cur:
        return {r["room_id"]: r["id"] for r in await cur.fetchall()}


@dataclass(frozen=True)
class Differs:
    """The first row of a case's chain that differs from what an anchor in its room says."""

    case_id: int
    table: str
    row_id: int
    anchored_at: str  # when the anchor saying otherwise was posted
    event_id: str  # the anchor's event in the room
    missing: bool = False  # the anchored row is not in the database at all
    after: int | None = None  # when not exact: the last row an anchor confirms before it (the change is after it)

    def describe(self) -> str:
        what = "is missing" if self.missing else "differs"
        text = f"{self.table} row {self.row_id} (case {self.case_id}) {what} from the anchor {self.event_id}"
        text += f" of {self.anchored_at}"
        if self.after is not None:
            text += f" (the first changed row is after row {self.after}, up to this one)"
        return text


async def compare(db: Connection, case_id: int, anchors: list[tuple[str, str, dict[str, Any]]]) -> list[Differs]:
    """The case's chains against the anchors found in its room (event id, posted at, anchor content): the first
    row of each chain that differs from an anchor, or none."""
    found: list[Differs] = []
    for table in CHAINS:
        async with db.execute(f"SELECT id, hash FROM {table} WHERE case_id = ? ORDER BY id", (case_id,)) as cur:
            stored = {r["id"]: r["hash"] or "" for r in await cur.fetchall()}
        claims: dict[int, tuple[str, bool, str, str]] = {}  # row id -> (hash or its prefix, full?, event, at)
        for event_id, at, anchor in anchors:
            part = (anchor.get("chains") or {}).get(table)
            if not isinstance(part, dict):
                continue
            for pair in part.get("rows") or []:
                if isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], int) and isinstance(pair[1], str):
                    claims.setdefault(pair[0], (pair[1], False, event_id, at))
            if isinstance(part.get("last"), int) and isinstance(part.get("head"), str):
                claims[part["last"]] = (part["head"], True, event_id, at)
        confirmed: int | None = None
        for row_id in sorted(claims):
            claim, full, event_id, at = claims[row_id]
            have = stored.get(row_id)
            if have is not None and (have == claim if full else have.startswith(claim)):
                confirmed = row_id
                continue
            # Exact when no stored row lies between the last confirmed one and this one (anchors list every row).
            between = [r for r in stored if (confirmed is None or r > confirmed) and r < row_id]
            found.append(Differs(case_id, table, row_id, at, event_id, have is None, confirmed if between else None))
            break
    return found
