"""The bot's safeguard messages, kept so that a redacted one can be posted again (`work.safeguards`).

What is kept is what the message says — its Markdown (user ids, lane names, consent titles,
the same facts the audit row beside it records; no plan text, no notes), whom it names and
its `homeward.*` keys — until the case's retention run removes it with the rest of the
case's personal content.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeward.store.changes import bookkeeping
from homeward.store.sql import Connection


@dataclass(frozen=True)
class Safeguard:
    case_id: int
    outbox_id: int
    kind: str
    markdown: str
    mentions: list[str]
    extra: dict[str, Any]
    posted_at: datetime


@bookkeeping
async def keep(
    db: Connection,
    case_id: int,
    outbox_id: int,
    kind: str,
    markdown: str,
    mentions: list[str],
    extra: dict[str, Any],
    now: datetime,
) -> None:
    await db.execute(
        "INSERT INTO safeguards (case_id, outbox_id, kind, markdown, mentions, extra, posted_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (case_id, outbox_id, kind, markdown, json.dumps(mentions), json.dumps(extra), now.isoformat()),
    )


async def by_event(db: Connection, event_id: str) -> Safeguard | None:
    """The safeguard the bot posted as `event_id`, if it is one."""
    async with db.execute(
        "SELECT s.case_id, s.outbox_id, s.kind, s.markdown, s.mentions, s.extra, s.posted_at"
        " FROM safeguards s JOIN outbox o ON o.id = s.outbox_id WHERE o.event_id = ?",
        (event_id,),
    ) as cur:
        r = await cur.fetchone()
    if r is None:
        return None
    return Safeguard(
        r["case_id"],
        r["outbox_id"],
        r["kind"],
        r["markdown"],
        json.loads(r["mentions"]),
        json.loads(r["extra"]),
        datetime.fromisoformat(r["posted_at"]),
    )
