"""A care room's state — name, topic, power levels, server ACL — kept in step with the case and the settings.

The room should say what `wanted_state` says: the label as its name, a neutral topic,
power levels that follow the coordinator flags (only the bot invites), and an ACL that
admits exactly `allowed_servers`. What the bot last queued is kept per case
(`store.room_state`); `keep_in_step` queues, as superseding state rows in the outbox, only
the events that differ. It runs inside a care room's unit of work whenever the team
changes (`!invite`, `!role`, someone leaving) and, for every care room, at start-up
(`bring_rooms_in_step`): so a new release (rooms named before the label stood alone,
rooms where coordinators could invite) or a changed `allowed_servers` reaches every room
once, the next time the bot starts.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from homeward.ids import server_of
from homeward.matrix.content import to_plain
from homeward.matrix.rooms import power_levels, room_name, server_acl
from homeward.store import outbox
from homeward.store import room_state as rows
from homeward.store.db import Store
from homeward.work.care_room import CareRoom
from homeward.work.services import Services

log = logging.getLogger(__name__)


#: The bot's own membership, which carries its display name in the room: the one state event here whose
#: state key is not empty (it is the bot's user id), and not part of a room's creation request.
BOT_MEMBER = "m.room.member"


def bot_name(services: Services, language: str) -> str:
    """The bot's display name in a room of `language`: configured (`display_name`), or the catalog's, which
    says it is a bot ("Homeward (chattbot)"), as TI-Messenger asks of bots and Element X needs (it shows a
    bot's notices like anyone's messages)."""
    return services.config.bot_name(language) or to_plain(services.catalog.t(language, "bot.display_name"))


def wanted_state(
    services: Services, *, label: str, language: str, coordinators: list[str]
) -> dict[str, dict[str, Any]]:
    """The state events a care room should carry now, by type (all with the empty state key but BOT_MEMBER)."""
    config = services.config
    return {
        "m.room.name": {"name": room_name(label)},
        "m.room.topic": {"topic": to_plain(services.catalog.t(language, "case.room_topic"))},  # a topic is plain text
        "m.room.power_levels": power_levels(config.user_id, sorted(coordinators)),
        "m.room.server_acl": server_acl(config.allowed_servers or [], server_of(config.user_id)),
        BOT_MEMBER: {"membership": "join", "displayname": bot_name(services, language)},
    }


def room_wanted_state(room: CareRoom) -> dict[str, dict[str, Any]]:
    return wanted_state(
        room.services, label=room.case.label, language=room.view.pathway.language, coordinators=room.view.coordinators()
    )


async def record_created(room: CareRoom, state: dict[str, dict[str, Any]]) -> None:
    """The room is being created with `state` (its createRoom request carries it): nothing to queue later."""
    account_name = bot_name(room.services, room.services.config.language)
    for event_type, content in state.items():
        # The bot joins a room it creates under its account's name: its name in the room's language is
        # queued afterwards (`keep_in_step`) when that is another.
        if event_type != BOT_MEMBER or content.get("displayname") == account_name:
            await rows.record(room.db, room.case.id, event_type, content)


async def keep_in_step(room: CareRoom) -> list[str]:
    """Queue each state event of the room that differs from what was last queued; the types queued."""
    wanted = room_wanted_state(room)
    last = await rows.last_queued(room.db, room.case.id)
    changed = [event_type for event_type, content in wanted.items() if last.get(event_type) != content]
    for event_type in changed:
        state_key = room.services.config.user_id if event_type == BOT_MEMBER else ""
        await room.queue(
            {"content": wanted[event_type], "state_key": state_key},
            event_type=event_type,
            kind=outbox.STATE,
            supersede_key=f"state:{room.case.id}:{event_type}",
        )
        await rows.record(room.db, room.case.id, event_type, wanted[event_type])
    return changed


async def profile_name_changed(store: Store) -> None:
    """The bot's account got a new display name: the homeserver writes it into every room the bot is in,
    over the name each room had in its language, so every room's name is queued again (`bring_rooms_in_step`)."""
    async with store.transaction() as db:
        await rows.forget_everywhere(db, BOT_MEMBER)


async def bring_rooms_in_step(store: Store, services: Services) -> int:
    """At start-up: bring every care room whose state differs from what it should be in step; how many were."""
    async with store.read() as db:
        found = await rows.case_rooms(db)
    updated = 0
    for row in found:
        pathway = services.pathways.get(row["pathway_id"])
        if pathway is None:
            continue  # a pathway no longer configured: its case cannot be loaded (logged where it is used)
        last = json.loads(row["j_state"] or "{}")
        wanted = wanted_state(
            services,
            label=row["label"],
            language=pathway.language,
            coordinators=json.loads(row["j_coordinators"] or "[]"),
        )
        if all(last.get(event_type) == content for event_type, content in wanted.items()):
            continue  # the common case: one read for every room, nothing written
        now = services.clock.now()
        async with store.transaction() as db:
            room = await CareRoom.of_case(
                db, services, row["id"], actor=services.config.user_id, event_id=None, now=now
            )
            changed = await keep_in_step(room)
            if changed:
                await room.audit("room.state_updated", types=changed)
        if changed:
            updated += 1
            log.info("room=%s state brought in step at start-up (%s)", row["room_id"], ", ".join(changed))
    if updated:
        services.wake_outbox()
    return updated
