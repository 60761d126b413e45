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

And the room itself: someone with the power to change its state — a homeserver administrator
who made themselves room admin (Synapse's `make_room_admin` even sends that change as the bot's
own account) — may change its name, topic, power levels or ACL. The bot compares the room's
actual state with what it should be (`put_back`) at every start-up and a moment after such a
change arrives (`bot.app` fetches the room's state), puts back whatever differs, tells the room
(a safeguard message, naming who changed it) and audits it (`room.state_restored`). What the
bot cannot undo it says: someone given the bot's own power level cannot be demoted by it.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from homeward.ids import server_of
from homeward.matrix.content import to_plain
from homeward.matrix.rooms import BOT_LEVEL, power_levels, room_name, server_acl
from homeward.store import outbox
from homeward.store import room_state as rows
from homeward.store.cases import load_room
from homeward.store.db import Store
from homeward.store.retention import purged_room
from homeward.store.state import get_value, set_value
from homeward.text import Markdown, mention, mentions
from homeward.work import safeguards
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


#: The state events the bot keeps as they should be (each with the empty state key).
WATCHED = frozenset({"m.room.name", "m.room.topic", "m.room.power_levels", "m.room.server_acl"})


def differs(event_type: str, have: dict[str, Any], want: dict[str, Any]) -> bool:
    """Whether the room's `have` says something else than `want`: every key the bot sets must be as it
    sets it (power levels' `users` and `events` exactly); a rich topic (`m.topic`) must say the topic too."""
    if any(have.get(key) != value for key, value in want.items()):
        return True
    if event_type == "m.room.topic" and "m.topic" in have:
        rich = have.get("m.topic")
        texts = rich.get("m.text") if isinstance(rich, dict) else rich
        bodies = [t.get("body") if isinstance(t, dict) else None for t in texts] if isinstance(texts, list) else [None]
        return any(body != want["topic"] for body in bodies)
    return False


def restorable(event_type: str, want: dict[str, Any], have: dict[str, Any], bot_id: str) -> tuple[dict, list[str]]:
    """What the bot can put back, and who keeps a power it cannot take: a user at the bot's own level or
    above cannot be demoted by the bot (Matrix's authorization rules), so they stay in what it sends."""
    if event_type != "m.room.power_levels":
        return want, []
    found = have.get("users")
    users: dict[str, Any] = found if isinstance(found, dict) else {}
    kept = {
        user: level
        for user, level in users.items()
        if user != bot_id and isinstance(level, int) and not isinstance(level, bool) and level >= BOT_LEVEL
    }
    if not kept:
        return want, []
    return {**want, "users": {**want["users"], **kept}}, sorted(kept)


async def drift_suspected(store: Store, services: Services, room_id: str, event_type: str, content: Any) -> bool:
    """Whether a state event that arrived in a room makes a care room's state differ from what it should be
    (a quick look, before `put_back` reads the room's state itself)."""
    if event_type not in WATCHED or not isinstance(content, dict):
        return False
    async with store.read() as db:
        info, loaded = await load_room(db, room_id, services.pathways)
        if info is None or loaded is None or await purged_room(db, room_id):
            return False
        room = CareRoom(db, services, info, loaded, services.config.user_id, None, services.clock.now())
        return differs(event_type, content, room_wanted_state(room)[event_type])


async def put_back(store: Store, services: Services, room_id: str, state: list[dict[str, Any]]) -> list[str]:
    """Compare a care room's actual state (`state`: its state events, as the homeserver gives them) with what
    it should be; queue what differs (unless the bot's own change of it is still waiting to go out), tell the
    room, audit it. The types put back."""
    actual = {
        e.get("type"): e for e in state if isinstance(e, dict) and e.get("type") in WATCHED and e.get("state_key") == ""
    }
    bot = services.config.user_id
    now = services.clock.now()
    async with store.transaction() as db:
        info, loaded = await load_room(db, room_id, services.pathways)
        if info is None or loaded is None or loaded.case.room_id != room_id or await purged_room(db, room_id):
            return []
        room = CareRoom(db, services, info, loaded, bot, None, now)
        wanted = room_wanted_state(room)
        changed: list[tuple[str, str | None]] = []
        unremovable: list[str] = []
        for event_type, want in wanted.items():
            if event_type not in WATCHED:
                continue  # the bot's own membership (its name in the room): nobody else can change it
            event = actual.get(event_type) or {}
            content = event.get("content")
            have: dict[str, Any] = content if isinstance(content, dict) else {}
            target, kept = restorable(event_type, want, have, bot)
            if kept and await get_value(db, f"state.kept_told:{event.get('event_id')}") is None:
                unremovable.extend(kept)
                await set_value(db, f"state.kept_told:{event.get('event_id')}", now.isoformat())
            if not differs(event_type, have, target) or await rows.pending(db, room.case.id, event_type):
                continue
            await room.queue(
                {"content": target},
                event_type=event_type,
                kind=outbox.STATE,
                supersede_key=f"state:{room.case.id}:{event_type}",
            )
            await rows.record(db, room.case.id, event_type, want)
            sender = event.get("sender")
            changed.append((event_type, sender if isinstance(sender, str) else None))
        if not changed and not unremovable:
            return []
        await _tell(room, changed, sorted(set(unremovable)))
        await room.audit(
            "room.state_restored",
            types=[t for t, _ in changed],
            changed_by=sorted({s for _, s in changed if s}),
            unremovable=sorted(set(unremovable)),
        )
    log.info("room=%s state put back (%s)", room_id, ", ".join(t for t, _ in changed) or "power kept")
    services.wake_outbox()
    return [t for t, _ in changed]


async def _tell(room: CareRoom, changed: list[tuple[str, str | None]], unremovable: list[str]) -> None:
    bot = room.services.config.user_id
    lines: list[str] = []
    for event_type, sender in changed:
        what = room.t("room_state.what_" + event_type.rsplit(".", 1)[-1])
        if sender is None:
            lines.append(room.t("room_state.restored_nobody", what=what))
        elif sender == bot:
            lines.append(room.t("room_state.restored_by_bot_account", what=what))
        else:
            lines.append(room.t("room_state.restored", what=what, user=mention(sender)))
    if unremovable:
        lines.append(room.t("room_state.unremovable", people=mentions(unremovable)))
    coordinators = room.view.coordinators()
    text = "🛡️ " + " ".join(lines) + " " + room.t("room_state.who_to_tell", coordinators=mentions(coordinators))
    await safeguards.post(
        room,
        "state_restored",
        Markdown(text),
        coordinators,
        state_restored={"types": [t for t, _ in changed], "by": [s for _, s in changed], "unremovable": unremovable},
    )
