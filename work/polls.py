"""The two messages around a consent request: its details before it, its question (a poll) after it.

`work.consents.ask` posts the request; these post, in the same unit of work, the details the
family reads first (an `m.notice` that names nobody) and the poll with Ja / Nej that answers
it in one tap (`messages.consents`). Each is recorded (`store.polls`), so a reply of "ja" to
either, or a vote, answers that consent (`commands.dispatch.handle_reply`, `handle_vote`).
"""

from __future__ import annotations

from homeward.care.pathway import Consent
from homeward.messages.consents import consent_details_content, poll_content
from homeward.store import polls
from homeward.work.care_room import CareRoom

#: The event type of the poll: the unstable MSC3381 name, which Element Web 1.11 sends and reads;
#: Element X and clients of Matrix 1.7 read it too.
POLL_START = "org.matrix.msc3381.poll.start"


async def post_details(room: CareRoom, consent: Consent, *, after_join: str | None = None) -> int:
    """Queue the details of `consent` (before its request); the outbox row."""
    content = consent_details_content(room, room.view, consent)
    if after_join:
        content["homeward.after_join"] = after_join
    row = await room.queue(content)
    await polls.add_message(room.db, room.case.id, consent.id, "details", row)
    return row


async def post_poll(room: CareRoom, consent: Consent, *, after_join: str | None = None) -> int:
    """Queue the question of `consent` as a poll with Ja / Nej (after its request); the outbox row."""
    content = poll_content(room, consent)
    if after_join:
        content["homeward.after_join"] = after_join
    row = await room.queue(content, event_type=POLL_START)
    await polls.add_message(room.db, room.case.id, consent.id, "poll", row)
    return row
