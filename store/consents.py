"""Consent answers: appended, never changed (triggers refuse UPDATE and DELETE), chained by hash (store/chain.py)."""

from __future__ import annotations

from datetime import datetime

import aiosqlite

from homeward.care.consent import Answer
from homeward.store import chain


async def add_answer(db: aiosqlite.Connection, case_id: int, answer: Answer, event_id: str) -> None:
    await chain.append(db, "consent_answers", {
        "case_id": case_id, "consent_id": answer.consent_id, "user_id": answer.user_id, "answer": answer.answer,
        "at": answer.at.isoformat(), "event_id": event_id,
    })


async def answers(db: aiosqlite.Connection, case_id: int) -> list[Answer]:
    async with db.execute(
        "SELECT consent_id, user_id, answer, at FROM consent_answers WHERE case_id = ? ORDER BY id", (case_id,)
    ) as cur:
        return [Answer(r["consent_id"], r["user_id"], r["answer"], datetime.fromisoformat(r["at"])) for r in await cur.fetchall()]
