"""A coordinator's caseload in the store: every case of a person in one read.

SQL only: what a case's line says and which come first is decided in `care.caseload`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeward.care.consent import Answer
from homeward.care.pathway import Pathway
from homeward.store.cases import CASE_COLUMNS, LoadedCase, loaded_case
from homeward.store.sql import Connection


@dataclass(frozen=True)
class CaseloadCase:
    """A case of a person's caseload: loaded as for its own room, with its consent answers and last activity."""

    loaded: LoadedCase
    answers: list[Answer]
    last_activity: datetime | None
    member: bool  # the person is on its team (else it is shown because it has no coordinator)
    checklist_event: str | None = (
        None  # the event of the current checklist, once it was sent: where a link opens the room
    )


async def cases_of(
    db: Connection,
    user_id: str,
    pathways: dict[str, Pathway],
    *,
    bot_id: str,
    reading: frozenset[str],
    closed: bool = False,
    orphans: bool = True,
) -> list[CaseloadCase]:
    """Every case `user_id` is a member of (the closed ones too with `closed`) and, with `orphans`,
    every open case without a coordinator on a pathway they coordinate an open case of.

    One statement for any number of cases: each sub-select is a JSON array of one table's rows
    for its case (as `load_room` does), through the tables' (case_id, …) keys. The last
    activity is the latest audit row of a person (not the bot) that is not one of `reading`.
    """
    marks = ",".join("?" * len(reading))
    sql = f"""
        SELECT {CASE_COLUMNS},
          (SELECT json_group_array(json_array(consent_id, user_id, answer, at, id))
             FROM consent_answers WHERE case_id = c.id) AS j_consents,
          (SELECT MAX(at) FROM audit WHERE case_id = c.id AND actor != ? AND action NOT IN ({marks})) AS last_activity,
          EXISTS (SELECT 1 FROM members WHERE case_id = c.id AND user_id = ?) AS is_member,
          (SELECT o.event_id FROM checklists k JOIN outbox o ON o.id = k.outbox_id
             WHERE k.case_id = c.id AND k.phase_id = c.phase_id) AS checklist_event
        FROM cases c
        WHERE c.room_id IS NOT NULL AND c.purged_at IS NULL AND (? = 1 OR c.state = 'open')
          AND (c.id IN (SELECT case_id FROM members WHERE user_id = ?)
               OR (? = 1 AND c.state = 'open'
                   AND NOT EXISTS (SELECT 1 FROM members WHERE case_id = c.id AND coordinator = 1)
                   AND c.pathway_id IN (
                       SELECT c2.pathway_id FROM members m2 JOIN cases c2 ON c2.id = m2.case_id
                        WHERE m2.user_id = ? AND m2.coordinator = 1 AND c2.state = 'open' AND c2.purged_at IS NULL)))
        ORDER BY c.id
    """
    params: list[Any] = [bot_id, *sorted(reading), user_id, int(closed), user_id, int(orphans), user_id]
    found: list[CaseloadCase] = []
    async with db.execute(sql, params) as cur:
        for row in await cur.fetchall():
            if row["pathway_id"] not in pathways:
                continue  # a pathway file removed from the configuration: its cases cannot be shown
            answers = [
                Answer(consent, user, answer, datetime.fromisoformat(at))
                for consent, user, answer, at, _ in sorted(json.loads(row["j_consents"]), key=lambda a: a[4])
            ]
            last = datetime.fromisoformat(row["last_activity"]) if row["last_activity"] else None
            event = row["checklist_event"] if (row["checklist_event"] or "").startswith("$") else None
            found.append(CaseloadCase(loaded_case(row, pathways), answers, last, bool(row["is_member"]), event))
    return found


async def coordinated_pathways(db: Connection, user_id: str) -> list[str]:
    """The pathways of the open cases `user_id` coordinates (a room still being created included):
    whose working days their worklist follows."""
    async with db.execute(
        "SELECT DISTINCT c.pathway_id FROM members m JOIN cases c ON c.id = m.case_id"
        " WHERE m.user_id = ? AND m.coordinator = 1 AND c.state = 'open' AND c.purged_at IS NULL"
        " ORDER BY c.pathway_id",
        (user_id,),
    ) as cur:
        return [r["pathway_id"] for r in await cur.fetchall()]
