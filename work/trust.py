"""Trusting people through their verified devices: what the bot does when it learns a member's keys.

The bot reads each member's cross-signing identity from the homeserver (`/keys/query`,
checked in homeward.matrix.cross_signing) and pins their master key the first time it sees
it, trust on first use (homeward.store.trust). A device is trusted while that pinned identity
signs it: it gets the room keys and its commands act (homeward.bot.devices applies this to
matrix-nio). This module is what happens around it, each in one store transaction:

- a master key pinned, a new verified device, an unverified one seen: audited in every case
  the person is on the team of;
- another master key on the homeserver (the person reset their identity, or someone who
  took over their account did): nothing of theirs is trusted until a coordinator who checked
  with them restores trust (`restore`, the `!trust` command); each of their care rooms is told
  (the coordinators, and for a guardian the other guardians), and it is audited;
- an account with no cross-signing at all (still none a while after the bot first saw it):
  its care rooms' coordinators are told once how the person sets it up (`tell_no_identity`);
- a member's new verified device, newer than the pinned checklist (which it cannot read):
  the checklist is posted afresh and pinned, at most once a day per room, quietly, the old
  one edited into a pointer as for a newcomer (work.joins).

What other code asks (issue 26's polls, anything that must know a device):
- `device_trusted(db, user_id, device_id)`: whether the bot trusts that device now;
- `newest_trusted_device_at(db, user_id)`: when the person's newest trusted device became
  trusted (None: they have none);
- `verdict_of(book, user_id, curve25519, ed25519)`: in memory, for a message's sender key
  (homeward.bot.devices.MemberDevices.event_verdict does this for a decrypted nio event).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from homeward.care.team import CONSENT_ROLES
from homeward.matrix.content import alert_content, notice_content
from homeward.matrix.cross_signing import MemberKeys
from homeward.matrix.relations import edit_of
from homeward.store import cases, outbox
from homeward.store import trust as rows
from homeward.store.db import Store
from homeward.store.sql import Connection
from homeward.store.state import get_value, set_value
from homeward.store.trust import Learned, TrustBook
from homeward.text import mention, mentions
from homeward.work.care_room import CareRoom
from homeward.work.services import Services

log = logging.getLogger(__name__)

#: A member's new verified device brings the checklist afresh at most this often per room.
CHECKLIST_REFRESH_EVERY = timedelta(days=1)
_REFRESHED = "checklist_refreshed:"  # kv key prefix, per case
#: An answer's content key: share this one message with the named device the bot does not trust
#: (`{"user_id", "device_id"}`), so its owner reads how to fix it (homeward.bot.devices; never sent).
SHARE_WITH = "homeward.share_with"


class Verdict(StrEnum):
    """Whether the device a message came from is trusted, and if not, why."""

    TRUSTED = "trusted"
    UNSIGNED = "unsigned"  # its owner's pinned identity has not signed it (a new login not verified, or not theirs)
    IDENTITY_CHANGED = "identity_changed"  # the account shows another master key than the one pinned
    NO_IDENTITY = "no_identity"  # the account has no cross-signing identity
    UNKNOWN = "unknown"  # the bot has no keys for the device (its homeserver did not list it)


async def device_trusted(db: Connection, user_id: str, device_id: str) -> bool:
    """Whether the bot trusts this device of `user_id` now."""
    return await rows.is_trusted(db, user_id, device_id)


async def newest_trusted_device_at(db: Connection, user_id: str) -> datetime | None:
    """When `user_id`'s newest trusted device became trusted (first seen signed, or trust restored)."""
    return await rows.newest_trusted_since(db, user_id)


def verdict_of(book: TrustBook, user_id: str, curve25519: str, ed25519: str | None) -> tuple[Verdict, str | None]:
    """The verdict on a message of `user_id` encrypted by the device with these keys, and that
    device's id when it is a trusted one."""
    identity = book.identity(user_id)
    if identity is None:
        return Verdict.UNKNOWN, None
    if identity.changed:
        return Verdict.IDENTITY_CHANGED, None
    if identity.master_key is None:
        return Verdict.NO_IDENTITY, None
    device = book.device(user_id, curve25519, ed25519)
    if device is not None:
        return Verdict.TRUSTED, device.device_id
    return Verdict.UNSIGNED, None


async def keys_learned(store: Store, services: Services, found: list[MemberKeys]) -> list[Learned]:
    """Record what a `/keys/query` answer says of these accounts, and act on what changed."""
    if not found:
        return []
    now = services.clock.now()
    learned_all: list[Learned] = []
    queued = False
    async with store.transaction() as db:
        for keys in found:
            first = await rows.identity(db, keys.user_id) is None
            learned = await rows.learn(db, keys, now)
            learned_all.append(learned)
            services.trust.forget(keys.user_id)
            queued |= await _consequences(db, services, keys, learned, first, now)
    async with store.read() as db:
        await services.trust.refresh(db)  # the caller (homeward.bot.devices) marks their devices next
    if queued:
        services.wake_outbox()
    return learned_all


async def _consequences(
    db: Connection, services: Services, keys: MemberKeys, learned: Learned, first: bool, now: datetime
) -> bool:
    """Audit rows, the rooms told, checklists posted afresh: True when something was queued."""
    user = keys.user_id
    events: list[tuple[str, dict[str, Any]]] = []
    if learned.pinned:
        events.append(("identity.pinned", {"user": user, "master_key": learned.pinned}))
    if learned.changed_to:
        events.append(("identity.changed", {"user": user, "master_key": learned.changed_to}))
    if learned.back_to_pinned:
        events.append(("identity.pinned_key_back", {"user": user}))
    if not first:
        for device_id in learned.newly_trusted:
            events.append(("device.verified", {"user": user, "device": device_id}))
    for device_id in learned.new_untrusted:
        events.append(("device.unverified_seen", {"user": user, "device": device_id}))
    # A member's new device, not someone's first: a newcomer's is theirs to read through work.joins.
    refresh = not first and learned.had_trusted and bool(learned.newly_trusted)
    if not events and not refresh:
        return False
    member_cases = await rows.member_cases(db, user)
    if not member_cases:
        for action, details in events:  # someone on no team (a coordinator before their first case)
            await cases.audit(db, room_id="", actor=services.config.user_id, action=action, now=now, **details)
        return False
    queued = False
    for case_id, _room_id in member_cases:
        room = await CareRoom.of_case(db, services, case_id, actor=services.config.user_id, event_id=None, now=now)
        for action, details in events:
            await room.audit(action, **details)
        if learned.changed_to:
            await _tell_identity_changed(room, user)
            queued = True
        if refresh:
            queued |= await refresh_checklist(room, now)
    return queued


async def _tell_identity_changed(room: CareRoom, user_id: str) -> None:
    """The coordinators (and, for a guardian, the other guardians) learn that nothing of theirs acts now."""
    view = room.view
    people = set(view.coordinators())
    member = view.members.get(user_id)
    if member is not None and member.lane is not None and view.pathway.lane(member.lane).role in CONSENT_ROLES:
        people |= {
            m.user_id
            for m in view.members.values()
            if m.lane is not None and view.pathway.lane(m.lane).role == view.pathway.lane(member.lane).role
        }
    people.discard(user_id)
    text = room.t("trust.identity_changed", user=mention(user_id), id=user_id, people=mentions(sorted(people)))
    content = alert_content("⚠️ " + text, sorted(people))
    content["homeward.identity_changed"] = user_id
    await room.queue(content)


async def tell_no_identity(store: Store, services: Services, user_id: str) -> bool:
    """The coordinators of each open care room of an account that still has no cross-signing identity
    (homeward.bot.devices asks a while after first seeing it: Element sets one up a second after its
    first login) learn that the bot can read nothing of theirs and send them nothing, and how the
    person fixes it; once per account, audited. True when told."""
    now = services.clock.now()
    async with store.transaction() as db:
        if not await rows.mark_no_identity_told(db, user_id, now):
            return False
        for case_id, _room_id in await rows.member_cases(db, user_id):
            room = await CareRoom.of_case(db, services, case_id, actor=services.config.user_id, event_id=None, now=now)
            await room.audit("identity.none", user=user_id)
            if room.case.state != "open":
                continue
            coordinators = [c for c in room.view.coordinators() if c != user_id]
            text = room.t("trust.no_identity", user=mention(user_id), coordinators=mentions(coordinators))
            content = alert_content("⚠️ " + text, coordinators)
            content["homeward.no_identity"] = user_id
            await room.queue(content)
    services.wake_outbox()
    return True


async def restore(room: CareRoom, user_id: str) -> str | None:
    """A coordinator checked with `user_id` that their new identity is theirs: pin it, audited in every
    case of theirs, and every other care room of theirs told. The key pinned, or None (nothing changed)."""
    db = room.db
    pinned = await rows.restore(db, user_id, room.now)
    if pinned is None:
        return None
    room.services.trust.forget(user_id)
    for case_id, _room_id in await rows.member_cases(db, user_id):
        if case_id == room.case.id:
            await room.audit("identity.restored", user=user_id, master_key=pinned)
            await refresh_checklist(room, room.now)
            continue
        other = await CareRoom.of_case(db, room.services, case_id, actor=room.actor, event_id=None, now=room.now)
        await other.audit("identity.restored", user=user_id, master_key=pinned, elsewhere=True)
        text = other.t("trust.restored", by=mention(room.actor), user=mention(user_id))
        await other.queue(notice_content("✅ " + text))
        await refresh_checklist(other, room.now)
    return pinned


async def refresh_checklist(room: CareRoom, now: datetime) -> bool:
    """Post the checklist afresh for a member's newly trusted device, which cannot read the pinned one.

    Only when it is older than the newest trusted device of someone on the team (the device that
    prompted this), and at most once a day per room; quietly (an m.notice that mentions nobody,
    like an edit). The old one becomes a pointer to the new. True when it was posted.
    """
    loaded = room.loaded
    if room.case.state != "open" or loaded.checklist is None:
        return False
    posted = await rows.sent_at(room.db, loaded.checklist)
    if posted is None:
        return False  # not sent yet: it will go with the room key of the moment
    key = f"{_REFRESHED}{room.case.id}"
    last = await get_value(room.db, key)
    if last is not None and now - datetime.fromisoformat(last) < CHECKLIST_REFRESH_EVERY:
        return False
    newest = None
    for user_id in room.view.members:
        since = await rows.newest_trusted_since(room.db, user_id)
        if since is not None and (newest is None or since > newest):
            newest = since
    if newest is None or newest <= posted:
        return False
    old = loaded.checklist
    await room.post_checklist()
    pointer = room.t("checklist.reposted")
    await room.queue(edit_of(outbox.ref(old), notice_content(pointer), pointer))
    await set_value(room.db, key, now.isoformat())
    await room.audit("checklist.reposted_for_new_device")
    return True


async def note_refusal(
    db: Connection, user_id: str, device_id: str | None, now: datetime, reaction: bool = False
) -> bool:
    """Whether the owner of this untrusted device is to be told now: once per device that a command from
    it acted on nothing, and once (`reaction`) that their ✅ does not count while it is there."""
    return device_id is not None and await rows.mark_told(db, user_id, device_id, now, reaction)
