"""The bot's safeguard messages — what a care room's protections tell the room — survive a redaction.

A safeguard message says that something happened which the team must be able to see: a
consent answerer moved or gone, a consent asked again, someone put into the family's lanes,
someone removed from the room, the last coordinator gone, the room's state put back, the
audit chain broken. Coordinators may redact other people's messages (power level `redact`,
so they can remove a colleague's mistaken one), and Matrix power levels cannot tell the bot's
messages from anyone else's: keeping them from redacting the bot's messages would take that
away, and a homeserver administrator who made themselves room admin could redact anyway.
So the bot keeps what it needs to post each safeguard again (`store.safeguards`: its Markdown,
whom it names, its `homeward.*` keys; no more than the audit row beside it records), and when
a redaction of one arrives it posts it again — saying who removed it and when it was first
posted — and audits the redaction (`safeguard.redacted`). The repost is a safeguard too.
"""

from __future__ import annotations

import logging
from typing import Any

from homeward.matrix.content import alert_content, details_content, notice_content
from homeward.messages.speaker import local_text
from homeward.store import safeguards
from homeward.store.cases import load_room
from homeward.store.db import Store
from homeward.store.retention import purged_room
from homeward.store.state import mark_handled
from homeward.text import Markdown, mention
from homeward.work.care_room import CareRoom
from homeward.work.services import Services

log = logging.getLogger(__name__)


async def post(
    room: CareRoom, kind: str, markdown: str, mentions: list[str], details: str | None = None, **extra: Any
) -> int:
    """Queue a safeguard message (an alert naming `mentions`, with `homeward.<key>` = value for each
    `extra`) and keep it, so that a redaction of it is answered by posting it again. Its outbox row.
    With no `mentions` it is a notice: quiet, nobody notified (an audit anchor).

    `details`: what the alert's readers need beyond its few lines (a message that names someone fits
    a phone screen, `MENTION_MAX_CHARS`), posted right after it naming nobody, and kept as a
    safeguard of the same kind: a redaction of either is answered by posting it again."""
    content = alert_content(markdown, mentions) if mentions else notice_content(markdown)
    for key, value in extra.items():
        content[f"homeward.{key}"] = value
    row = await room.queue(content)
    await safeguards.keep(room.db, room.case.id, row, kind, str(markdown), mentions, extra, room.now)
    if details:
        details_row = await room.queue(details_content(details))
        await safeguards.keep(room.db, room.case.id, details_row, kind, str(details), [], {}, room.now)
    return row


async def redacted(store: Store, services: Services, room_id: str, event_id: str, sender: str, redacts: str) -> bool:
    """A redaction arrived: if it removed one of the bot's safeguard messages, post it again, saying who
    removed it, and audit it (once per redaction event). True when it was posted again."""
    if sender == services.config.user_id:
        return False
    now = services.clock.now()
    async with store.transaction() as db:
        kept = await safeguards.by_event(db, redacts)
        if kept is None:
            return False  # someone's own or a colleague's message: redacting it is theirs to do
        info, loaded = await load_room(db, room_id, services.pathways)
        if info is None or loaded is None or loaded.case.id != kept.case_id or await purged_room(db, room_id):
            return False
        if not await mark_handled(db, event_id, room_id, now):
            return False
        room = CareRoom(db, services, info, loaded, sender, event_id, now)
        note = room.t("safeguards.posted_again", by=mention(sender), at=local_text(kept.posted_at, room.view.pathway))
        await post(
            room,
            kept.kind,
            Markdown(note + "\n\n" + kept.markdown),
            kept.mentions,
            **kept.extra,
            reposted={"redacted": redacts, "by": sender, "kind": kept.kind},
        )
        await room.audit("safeguard.redacted", kind=kept.kind, redacted_event=redacts, reposted=True)
    log.info("room=%s event=%s a safeguard message was redacted; posted again", room_id, event_id)
    services.wake_outbox()
    return True
