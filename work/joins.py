"""When someone joins a care room: a team member is greeted (and given a checklist they can read);
anyone else is removed.

Each member of the team who joins gets one greeting addressed to them: what the room is
for, their lane in plain words, what is open for their lane now, and the one command they
will use most. It is queued in the join's unit of work, marked handled in the same
transaction, so a join seen again (a restart, a SIGKILL, a sync replayed) never greets
twice; a person who left and is invited again joins anew and is greeted anew. The opener
of the case is not greeted: the room's welcome, posted after their invite, is theirs.

A care room shows history to members from their invitation on (`history_visibility:
invited`), and its messages are end-to-end encrypted with keys shared only with the
members of the moment, so a checklist posted before someone was invited is not theirs to
read: the homeserver answers M_NOT_FOUND, and Element, which shows edits only on their
original message, would show none of its updates either. So when a member joins and the
pinned checklist came before their invite (its outbox row before their invite's row:
a room's rows are sent in order), the bot posts the checklist anew, pins it and makes it
the one later updates edit. Otherwise it posts nothing: in a join burst (several people
invited, then joining) the first join reposts and the others can read that one. The old
message is edited into a pointer to the new one only while someone who could read it is
still on the team (the opener, or a member invited before it was posted); with nobody
left to mislead, no stub.

People join a care room through `!invite`, which records their lane; only the bot can
invite (the room's power levels). Someone who is in the room without a place on the team
anyway — an invite from before those power levels, a server administrator's forced join,
a person re-invited after they left — is removed at once, and the coordinators are told
how to add them properly: every message the bot sends into the room is encrypted for
everyone in it, so the only way to give such a person no case data is to not have them
there. Each join is one unit of work, marked handled in its own transaction; at every
start-up the rooms' members as the first sync shows them are checked the same way
(`remove_strangers`), which finds those who got in before this release, or while the bot
was away without a join it would see. One removal per time a person is in the room
(`store.cases.start_removal`), however many times it is noticed.
"""

from __future__ import annotations

import logging

from homeward.matrix.content import notice_content, to_plain
from homeward.matrix.relations import edit_of
from homeward.messages.greeting import greeting_contents
from homeward.store import cases, consents, outbox
from homeward.store.cases import load_room
from homeward.store.db import Store
from homeward.store.retention import purged_room
from homeward.store.state import mark_handled
from homeward.text import mention, mentions
from homeward.work import safeguards
from homeward.work.care_room import CareRoom
from homeward.work.services import Services

log = logging.getLogger(__name__)


async def member_joined(room_id: str, event_id: str, user_id: str, store: Store, services: Services) -> bool:
    """Handle a join in a care room (once per join event); True when something was queued."""
    now = services.clock.now()
    async with store.transaction() as db:
        info, loaded = await load_room(db, room_id, services.pathways)
        if info is None or loaded is None or user_id == services.config.user_id:
            return False
        if user_id not in loaded.view.members:
            if await purged_room(db, room_id):
                return False  # removed by its retention run, the bot on its way out: nobody's place to guard
            if not await mark_handled(db, event_id, room_id, now):
                return False
            # The bot removes them: it is the actor of this unit of work.
            if not await _remove_stranger(
                CareRoom(db, services, info, loaded, services.config.user_id, event_id, now), user_id
            ):
                return False
            outcome = "removed: no place on the team"
        else:
            if user_id == loaded.case.opened_by or not await mark_handled(db, event_id, room_id, now):
                return False
            room = CareRoom(db, services, info, loaded, user_id, event_id, now)
            await greet(room, user_id)
            outcome = "greeted"
            if await _checklist_unreadable_for(room, user_id):
                await _post_checklist_again(room, user_id)
                outcome += "; checklist posted again"
    log.info("room=%s event=%s member joined; %s", room_id, event_id, outcome)
    services.wake_outbox()
    return True


async def greet(room: CareRoom, user_id: str) -> None:
    """Queue the greeting of a member who joined.

    It is held until they are in the room (bot/sender.py), so they can read it.
    """
    answers = await consents.answers(room.db, room.case.id)
    for content in greeting_contents(room, room.view, user_id, answers):  # the greeting, then its details
        content["homeward.after_join"] = user_id
        await room.queue(content)
    await room.audit("member.greeted", user=user_id)


async def _checklist_unreadable_for(room: CareRoom, user_id: str) -> bool:
    """Whether the pinned checklist came before `user_id`'s invite, so they cannot read it."""
    checklist = room.loaded.checklist
    if checklist is None:
        return False  # none yet: the next one posted will be after their invite
    invited = (await cases.invite_rows(room.db, room.case.id)).get(user_id)
    if invited is None:
        return True  # invited before invites were recorded: assume the worst
    if checklist > invited:
        return False
    finished, _ = (await outbox.results(room.db, {checklist})).get(checklist, (True, None))
    return finished  # an earlier row still unsent (held for someone) goes after their invite: readable


async def _post_checklist_again(room: CareRoom, newcomer: str) -> None:
    old = room.loaded.checklist
    await room.post_checklist(after_join=newcomer)
    if old is not None and await _old_checklist_has_readers(room, old, newcomer):
        # Updates of the old one still unsent go first (the outbox keeps order), so the
        # pointer is what the old message finally shows.
        # Held like the new one (bot/sender.py JOIN_SETTLE_S): sent at the moment of the join,
        # the newcomer's Element could not decrypt it and would show it as an unreadable message.
        pointer = room.t("checklist.reposted")
        await room.queue(
            {**edit_of(outbox.ref(old), notice_content(pointer), pointer), "homeward.after_join": newcomer}
        )


async def _old_checklist_has_readers(room: CareRoom, old: int, newcomer: str) -> bool:
    """Whether someone on the team besides the newcomer could read the old checklist (and would read it stale)."""
    invited = await cases.invite_rows(room.db, room.case.id)
    for user_id in room.view.members:
        if user_id == newcomer:
            continue
        row = invited.get(user_id)
        if user_id == room.case.opened_by or row is None or row < old:
            return True
    return False


async def remove_strangers(store: Store, services: Services, present: dict[str, set[str]]) -> int:
    """Remove everyone in a care room (joined or invited, as `present` says per room) without a place on the team.

    For the start-up check: `present` comes from the first sync. How many were removed.
    """
    removed = 0
    now = services.clock.now()
    async with store.read() as db:
        teams = await cases.teams_by_room(db)  # one read; a unit of work only where someone is out of place
    bot = services.config.user_id
    for room_id, users in sorted(present.items()):
        if room_id not in teams or not users - teams[room_id] - {bot}:
            continue
        async with store.transaction() as db:
            info, loaded = await load_room(db, room_id, services.pathways)
            if info is None or loaded is None:
                continue
            strangers = sorted(users - set(loaded.view.members) - {services.config.user_id})
            if not strangers:
                continue
            room = CareRoom(db, services, info, loaded, services.config.user_id, None, now)
            for user_id in strangers:
                if await _remove_stranger(room, user_id):
                    removed += 1
                    log.info("room=%s someone without a place on the team found at start-up; removed", room_id)
    if removed:
        services.wake_outbox()
    return removed


async def _remove_stranger(room: CareRoom, user_id: str) -> bool:
    """Remove someone in the room without a place on the team, tell the coordinators, audit it.

    False if that was done already.
    """
    if not await cases.start_removal(room.db, room.case.id, user_id, room.now):
        return False  # being removed already (the join seen again, or at start-up before their leave arrived)
    # The reason is state, readable by every server in the room: it says nothing about the case.
    await room.queue(
        {"user_id": user_id, "reason": to_plain(room.t("team.removed_reason"))},
        event_type="m.room.member",
        kind=outbox.KICK,
    )
    coordinators = room.view.coordinators()
    text = room.t("team.stranger_removed", user=mention(user_id), id=user_id, coordinators=mentions(coordinators))
    await safeguards.post(room, "removed", "🚪 " + text, coordinators, removed=user_id)
    await room.audit("member.removed_without_lane", user=user_id)
    return True
