"""Consent answers: appended, never changed (triggers refuse UPDATE and DELETE), chained by hash (store/chain.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from homeward.care.consent import Answer
from homeward.store import chain
from homeward.store.changes import changes_case
from homeward.store.sql import Connection


@changes_case
async def add_answer(db: Connection, case_id: int, answer: Answer, event_id: str) -> None:
    await chain.append(
        db,
        "consent_answers",
        {
            "case_id": case_id,
            "consent_id": answer.consent_id,
            "user_id": answer.user_id,
            "answer": answer.answer,
            "at": answer.at.isoformat(),
            "event_id": event_id,
        },
    )


async def answers(db: Connection, case_id: int) -> list[Answer]:
    async with db.execute(
        "SELECT consent_id, user_id, answer, at FROM consent_answers WHERE case_id = ? ORDER BY id", (case_id,)
    ) as cur:
        return [
            Answer(r["consent_id"], r["user_id"], r["answer"], datetime.fromisoformat(r["at"]))
            for r in await cur.fetchall()
        ]


async def answer_for_event(db: Connection, case_id: int, event_id: str) -> Answer | None:
    """The answer of this case recorded from the event `event_id` (a typed command or a reply), if one was."""
    async with db.execute(
        "SELECT consent_id, user_id, answer, at FROM consent_answers WHERE case_id = ? AND event_id = ?"
        " ORDER BY id DESC LIMIT 1",
        (case_id, event_id),
    ) as cur:
        r = await cur.fetchone()
    return Answer(r["consent_id"], r["user_id"], r["answer"], datetime.fromisoformat(r["at"])) if r else None


@dataclass(frozen=True)
class Request:
    """A request message the bot posted for one consent (its outbox row)."""

    consent_id: str
    outbox_id: int
    asked_at: datetime


@changes_case
async def add_request(db: Connection, case_id: int, consent_id: str, outbox_id: int, now: datetime) -> None:
    await db.execute(
        "INSERT INTO consent_requests (case_id, consent_id, outbox_id, asked_at) VALUES (?, ?, ?, ?)",
        (case_id, consent_id, outbox_id, now.isoformat()),
    )


async def requests(db: Connection, case_id: int) -> list[Request]:
    """Every request posted in the case, oldest first."""
    async with db.execute(
        "SELECT consent_id, outbox_id, asked_at FROM consent_requests WHERE case_id = ? ORDER BY id", (case_id,)
    ) as cur:
        return [
            Request(r["consent_id"], r["outbox_id"], datetime.fromisoformat(r["asked_at"]))
            for r in await cur.fetchall()
        ]


async def request_for_event(db: Connection, case_id: int, event_id: str) -> Request | None:
    """The request of this case the bot posted as `event_id` (what a reply answers), if it is one."""
    async with db.execute(
        "SELECT r.consent_id, r.outbox_id, r.asked_at FROM consent_requests r JOIN outbox o ON o.id = r.outbox_id"
        " WHERE o.event_id = ? AND r.case_id = ?",
        (event_id, case_id),
    ) as cur:
        row = await cur.fetchone()
    return Request(row["consent_id"], row["outbox_id"], datetime.fromisoformat(row["asked_at"])) if row else None


@changes_case
async def add_round(db: Connection, case_id: int, consent_id: str, number: int, now: datetime, reason: str) -> None:
    """Begin round `number` of a consent (`care.case.ConsentRound`); its askees follow with `add_askee`."""
    await db.execute(
        "INSERT INTO consent_rounds (case_id, consent_id, round, started_at, reason) VALUES (?, ?, ?, ?, ?)",
        (case_id, consent_id, number, now.isoformat(), reason),
    )


@changes_case
async def add_askee(
    db: Connection, case_id: int, consent_id: str, number: int, user_id: str, now: datetime, *, late: bool
) -> None:
    """`user_id` must answer round `number` of the consent (`late`: put into an answering lane after it began)."""
    await db.execute(
        "INSERT INTO consent_askees (case_id, consent_id, round, user_id, added_at, late) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (case_id, consent_id, round, user_id) DO NOTHING",
        (case_id, consent_id, number, user_id, now.isoformat(), int(late)),
    )


@changes_case
async def set_child_answers(db: Connection, case_id: int, enabled: bool) -> None:
    await db.execute("UPDATE cases SET child_answers = ? WHERE id = ?", (int(enabled), case_id))
