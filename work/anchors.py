"""Each case's audit chains anchored outside the database: their heads posted into the case's encrypted room.

The hash chains (`store.chain`) show a row changed behind the application's back — unless whoever changed
it also recomputed every hash after it. An anchor defeats that: at most once a day, when a case's audit
trail or consent answers grew, the bot posts into its room a quiet notice (an `m.notice` naming nobody)
whose `homeward.audit_anchor` lists every row added since the last anchor (its id and the first 16 hex
digits of its hash), the head of each chain and the time. Every member's client and every homeserver in
the room then holds a signed, timestamped, end-to-end encrypted copy the bot's operator cannot change;
`homeward verify-audit` reads them back from the room (`bot.anchors`) and names the first row of the
database that differs. An anchor is a safeguard message (`work.safeguards`): redacted, it is posted again.
Anchoring is bookkeeping, not a change of the case: it adds no audit row (which would call for an anchor
of its own the next day, for ever).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from homeward.store import anchors
from homeward.store.db import Store
from homeward.work import safeguards
from homeward.work.care_room import CareRoom
from homeward.work.services import Services

log = logging.getLogger(__name__)

#: At most one anchor a day per case.
EVERY = timedelta(days=1)


async def anchor_cases(store: Store, services: Services) -> int:
    """Post an anchor into the room of every case whose chains grew since its last anchor a day or more ago
    (or that has none yet); how many were posted."""
    now = services.clock.now()
    async with store.read() as db:
        found = await anchors.due(db)
    posted = 0
    for case in found:
        if case.anchored_at is not None and now - case.anchored_at < EVERY:
            continue
        async with store.transaction() as db:
            room = await CareRoom.of_case(
                db, services, case.case_id, actor=services.config.user_id, event_id=None, now=now
            )
            listed = await post_anchor(room, case.after)
        posted += 1
        log.info("room=%s audit chains anchored (%d rows)", case.room_id, listed)
    if posted:
        services.wake_outbox()
    return posted


async def post_anchor(room: CareRoom, after: dict[str, int]) -> int:
    """Queue the anchor of the case's chains (the rows after `after`, per chain) in its room; how many rows it
    lists."""
    db, case_id = room.db, room.case.id
    chains = {}
    for table, since in after.items():
        part = await anchors.chain_since(db, table, case_id, since)
        if part is not None:
            chains[table] = part
    text = room.t("anchors.posted", head=str(chains.get("audit", {}).get("head", ""))[:12])
    anchor = {"v": 1, "case": case_id, "at": room.now.isoformat(), "chains": chains}
    row = await safeguards.post(room, "audit_anchor", text, [], audit_anchor=anchor)
    await anchors.record(
        db,
        case_id,
        int(chains.get("audit", {}).get("last", after["audit"])),
        int(chains.get("consent_answers", {}).get("last", after["consent_answers"])),
        room.now,
        row,
    )
    return sum(len(part["rows"]) for part in chains.values())
