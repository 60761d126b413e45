"""The other messages of a consent request — its details and its question, a poll — by outbox row.

Bookkeeping only (which message asks which consent); the answers are in `store.consents`.
"""

from __future__ import annotations

from typing import Literal

from homeward.store.changes import bookkeeping
from homeward.store.sql import Connection

ConsentMessage = Literal["details", "poll"]


@bookkeeping
async def add_message(db: Connection, case_id: int, consent_id: str, kind: ConsentMessage, outbox_id: int) -> None:
    await db.execute(
        "INSERT INTO consent_messages (case_id, consent_id, kind, outbox_id) VALUES (?, ?, ?, ?)",
        (case_id, consent_id, kind, outbox_id),
    )


async def consent_for_event(
    db: Connection, case_id: int, event_id: str, kind: ConsentMessage | None = None
) -> str | None:
    """The consent whose details or poll (or only `kind`) the bot posted in this case as `event_id`, if any."""
    async with db.execute(
        "SELECT m.consent_id, m.kind FROM consent_messages m JOIN outbox o ON o.id = m.outbox_id"
        " WHERE o.event_id = ? AND m.case_id = ?",
        (event_id, case_id),
    ) as cur:
        row = await cur.fetchone()
    if row is None or (kind is not None and row["kind"] != kind):
        return None
    return str(row["consent_id"])
