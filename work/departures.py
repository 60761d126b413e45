"""When someone leaves a care room — left, was kicked or banned, or declined the invite — they leave the team.

One unit of work per membership event, marked handled in the same transaction (exactly
once, also when a sync is seen again after a crash). Their lane, coordinator flag and
assignments go, so they no longer count for the last-coordinator rule, are no longer
mentioned or reminded (their own `!remind`s are cancelled by the rescheduling, and a
consent request still waiting for them to join is given up), and the room's power levels
drop them. Coming back takes a new `!invite`: nothing of the old place returns by itself.

What stays is theirs: the audit trail, and their consent answers, which keep counting
(`care.consent`); the room is told when someone who answered a consent leaves. When the
last coordinator leaves, the care lanes are asked to name a new one.
"""

from __future__ import annotations

import logging

from homeward.care.team import who_names_a_coordinator, without_coordinator
from homeward.store import cases, consents, outbox
from homeward.store.cases import load_room
from homeward.store.db import Store
from homeward.store.state import mark_handled
from homeward.text import mention, mentions
from homeward.work import safeguards
from homeward.work.care_room import CareRoom
from homeward.work.consents import announce_answerer_moved, ensure_rounds, lane_left, states
from homeward.work.room_state import keep_in_step
from homeward.work.services import Services

log = logging.getLogger(__name__)

#: How a membership event is recorded: who removed whom is in the event (sender and state key).
LEFT, REMOVED, BANNED, DECLINED = "left", "removed", "banned", "declined"


def how_they_left(membership: str, prev_membership: str | None, sender: str, user_id: str) -> str:
    if membership == "ban":
        return BANNED
    if sender != user_id:
        return REMOVED
    return DECLINED if prev_membership == "invite" else LEFT


async def member_left(
    room_id: str,
    event_id: str,
    user_id: str,
    sender: str,
    membership: str,
    prev_membership: str | None,
    store: Store,
    services: Services,
) -> bool:
    """Handle a leave, kick or ban in a care room (once per event); True when the team changed."""
    now = services.clock.now()
    async with store.transaction() as db:
        info, loaded = await load_room(db, room_id, services.pathways)
        if info is None or loaded is None or user_id == services.config.user_id:
            return False
        before = loaded.view.members.get(user_id)
        if before is None:
            # Not on the team (a stranger the bot removed, someone who left before): nothing to undo,
            # but a later time in the room is a new removal.
            await cases.end_removal(db, loaded.case.id, user_id)
            return False
        if not await mark_handled(db, event_id, room_id, now):
            return False
        how = how_they_left(membership, prev_membership, sender, user_id)
        room = CareRoom(db, services, info, loaded, sender, event_id, now)
        await ensure_rounds(room)  # who must answer each asked consent, measured before they go
        states_before = states(room, await consents.answers(db, room.case.id))
        await cases.remove_member(db, room.case.id, user_id)
        await room.audit(
            "member.left", user=user_id, how=how, previous_lane=before.lane, previous_coordinator=before.coordinator
        )
        # Held for them (bot/sender.py): their consent requests and greeting are theirs alone and are given up;
        # the checklist posted again at their join, and the old one's pointer, are the room's and go now
        # (given up, the room's checklist would be a message never sent, and its updates with it).
        await outbox.abandon_waiting_for(
            db,
            room_id,
            user_id,
            now,
            f"{user_id} {how} before it went out",
            carrying=("homeward.consent_request", "homeward.greeting"),
        )
        await outbox.release_waiting_for(db, room_id, user_id)
        await room.settle()  # the view without them; reminders rescheduled (their own ones cancelled), checklist edited
        await keep_in_step(room)  # power levels without them
        await announce_answerer_moved(room, user_id, before.lane, None)
        await lane_left(room, user_id, before.lane, None, states_before)  # a consent they were to answer: asked again
        if before.coordinator and without_coordinator(room.view):
            await ask_for_a_coordinator(room, user_id)
        await room.flush_later()
    log.info("room=%s event=%s member %s; lane and flags dropped", room_id, event_id, how)
    services.wake_outbox()
    services.wake_reminders()
    return True


async def ask_for_a_coordinator(room: CareRoom, departed: str) -> None:
    """The last coordinator left: ask the care lanes (everyone left, if there are none) to name one."""
    asked = who_names_a_coordinator(room.view)
    # A closed case changes only once reopened: first `!case reopen`, then `!role` (both open to the care lanes now).
    key = "team.no_coordinator_left_closed" if room.view.closed else "team.no_coordinator_left"
    text = room.t(key, user=mention(departed), people=mentions(asked))
    await safeguards.post(room, "needs_coordinator", "⚠️ " + text, asked, needs_coordinator=True)
    await room.audit("case.without_coordinator", departed=departed, asked=asked)
