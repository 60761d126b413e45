"""What the open event log reads from the store (`care.events`): the cases, their audit facts, their views.

Read-only: `homeward export-events` runs it on a read-only connection beside the running bot.
"""

from __future__ import annotations

from datetime import datetime

from homeward.care.events import AuditFact, CaseSource
from homeward.care.pathway import Pathway
from homeward.store import cases, delays
from homeward.store.sql import Connection

#: The audit actions the event log is made of (everything else — reads, exports, settings — is not an event of care).
EVENT_ACTIONS = (
    "case.opened",
    "phase.changed",
    "notice.sent",
    "item.renewed",
    "item.acknowledged",
    "reminder.sent",
    "delay.reason",
    "case.closed",
    "case.reopened",
)


async def case_facts(db: Connection, case_ids: list[int] | None = None) -> dict[int, list[AuditFact]]:
    """The event log's audit facts per case (every case, or those named), in the order they were written."""
    marks = ",".join("?" * len(EVENT_ACTIONS))
    query = f"SELECT case_id, at, action, details FROM audit WHERE action IN ({marks}) AND case_id IS NOT NULL"
    values: list[object] = list(EVENT_ACTIONS)
    if case_ids is not None:
        query += f" AND case_id IN ({','.join('?' * len(case_ids))})"
        values.extend(case_ids)
    found: dict[int, list[AuditFact]] = {}
    async with db.execute(query + " ORDER BY id", values) as cur:
        for row in await cur.fetchall():
            fact = AuditFact.of(row["action"], datetime.fromisoformat(row["at"]), row["details"])
            found.setdefault(row["case_id"], []).append(fact)
    return found


async def event_sources(
    db: Connection, pathways: dict[str, Pathway], case_ids: list[int] | None = None
) -> list[CaseSource]:
    """Every case (or those named) as the event log needs it: pseudonym, pathway and version, facts, and
    its view while it is kept (a case removed by its retention run has its audit facts only)."""
    key = await delays.pseudonym_key(db)
    versions = await delays.versions(db)
    facts = await case_facts(db, case_ids)
    query = "SELECT id, pathway_id, opened_at, state, closed_at, purged_at, room_id FROM cases"
    values: list[object] = []
    if case_ids is not None:
        query += f" WHERE id IN ({','.join('?' * len(case_ids))})"
        values.extend(case_ids)
    async with db.execute(query + " ORDER BY id", values) as cur:
        rows = list(await cur.fetchall())
    found: list[CaseSource] = []
    for row in rows:
        pathway = pathways.get(row["pathway_id"])
        view = None
        if pathway is not None and row["purged_at"] is None and row["room_id"] is not None:
            view = (await cases.load_case(db, row["id"], pathways)).view
        closed = datetime.fromisoformat(row["closed_at"]) if row["state"] == "closed" and row["closed_at"] else None
        found.append(
            CaseSource(
                pseudonym=delays.pseudonym(key, row["id"]),
                pathway_id=row["pathway_id"],
                pathway_version=versions.get(row["id"], ""),
                facts=tuple(facts.get(row["id"], [])),
                view=view,
                opened_at=datetime.fromisoformat(row["opened_at"]),
                closed_at=closed,
            )
        )
    return found
