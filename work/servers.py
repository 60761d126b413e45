"""At start-up — the only moment `allowed_servers` changes — nobody on a care team is from a server the
region no longer trusts.

A care room's ACL (`work.room_state`) stops a server's events into the room, but not the room's
events, encrypted for everyone in it, from reaching that server's users: while they keep their
lane, the bot keeps sharing room keys with them. So each of them is taken off the team as if they
had left — lane, coordinator flag and assignments go, power levels drop them, a consent they were
to answer is asked again of those who remain (`work.consents`) — and removed from the room; the
room is told (a safeguard message, mentioning the coordinators) and it is audited
(`member.removed_server_not_allowed`). One unit of work per case; a removal already under way
(`store.cases.start_removal`) is not made twice.
"""

from __future__ import annotations

import logging

from homeward.care.team import without_coordinator
from homeward.ids import server_of
from homeward.matrix.content import to_plain
from homeward.store import cases, consents, outbox
from homeward.store.cases import load_room
from homeward.store.db import Store
from homeward.text import mentions
from homeward.work import safeguards
from homeward.work.care_room import CareRoom
from homeward.work.consents import announce_answerer_moved, ensure_rounds, lane_left, states
from homeward.work.departures import ask_for_a_coordinator
from homeward.work.room_state import keep_in_step
from homeward.work.services import Services

log = logging.getLogger(__name__)


async def remove_outside_servers(store: Store, services: Services) -> int:
    """Take everyone whose server `allowed_servers` does not name off every care team and out of its room;
    how many people were removed."""
    config = services.config
    async with store.read() as db:
        teams = await cases.teams_by_room(db)
    removed = 0
    for room_id, team in sorted(teams.items()):
        outside = sorted(user for user in team if not config.server_allowed(user))
        if not outside:
            continue
        now = services.clock.now()
        async with store.transaction() as db:
            info, loaded = await load_room(db, room_id, services.pathways)
            if info is None or loaded is None:
                continue
            room = CareRoom(db, services, info, loaded, config.user_id, None, now)
            await ensure_rounds(room)
            states_before = states(room, await consents.answers(db, room.case.id))
            before = dict(room.view.members)
            gone = [user for user in outside if user in before]
            for user in gone:
                member = before[user]
                await cases.remove_member(db, room.case.id, user)
                if await cases.start_removal(db, room.case.id, user, now):
                    # The reason is state, readable by every server in the room: it says nothing about the case.
                    await room.queue(
                        {"user_id": user, "reason": to_plain(room.t("servers.removed_reason"))},
                        event_type="m.room.member",
                        kind=outbox.KICK,
                    )
                await room.audit(
                    "member.removed_server_not_allowed",
                    user=user,
                    server=server_of(user),
                    previous_lane=member.lane,
                    previous_coordinator=member.coordinator,
                )
            await room.settle()
            await keep_in_step(room)  # power levels without them
            coordinators = room.view.coordinators()
            text = room.t(
                "servers.removed",
                people=mentions(gone),
                servers=", ".join(sorted({server_of(u) for u in gone})),
                coordinators=mentions(coordinators),
            )
            await safeguards.post(room, "removed_server", "🚪 " + text, coordinators, removed_server=gone)
            for user in gone:
                await announce_answerer_moved(room, user, before[user].lane, None)
                await lane_left(room, user, before[user].lane, None, states_before)
            if any(before[u].coordinator for u in gone) and without_coordinator(room.view):
                await ask_for_a_coordinator(room, gone[0])
            await room.flush_later()
        removed += len(gone)
        log.info("room=%s %d member(s) of servers no longer allowed removed at start-up", room_id, len(gone))
    if removed:
        services.wake_outbox()
    return removed
