"""Which of the members' devices get the bot's room keys and may act: matrix-nio told what the bot trusts.

With `device_trust = "cross-signed"` (the default) a device is trusted while its owner's
pinned cross-signing identity signs it (homeward.work.trust, homeward.store.trust). nio knows
nothing of cross-signing (its issue #229), so each device in nio's device store is marked as
nio understands it: a trusted device *verified*, every other one *blacklisted*. nio shares a
room key with no blacklisted device, and a change of either mark makes it start a new room
key for every room of that person: a device that stops being trusted (a new, unsigned login
of a member; everyone of an account whose identity changed) cannot read the bot's next
message, and one that becomes trusted can.

The marks are set where nio learns of devices — every `/keys/query` answer, handed over by
homeward.bot.client before anything can share a key with them — and checked once more for
the room's members before each message (`room_keys`, the one call the outbox sender makes).
Members whose keys the bot never asked for (everyone, at the first start of this release)
are asked for first; until they are known, their devices get nothing.

Which device sent a decrypted message is its Megolm session's: the Curve25519 key the room
key came from over Olm and the Ed25519 key it claimed, matched against the devices the pinned
identity signed (`event_verdict`). Nothing the sender's homeserver wrote in clear (the
wrapper's `device_id`) counts. A reaction arrives in clear (Element encrypts none), so
nothing tells which device sent it: it counts only while every device of the account is
trusted (`account_verdict`).

With `device_trust = "any"` every device of a member is treated as before this release: nio
shares with any device not blacklisted, and every decrypted command acts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from nio import AsyncClient, LocalProtocolError, ToDeviceMessage
from nio.crypto import OlmDevice, TrustState

from homeward.bot.client import KeysQueryWithIdentities
from homeward.bot.sync import CONNECTION_ERRORS
from homeward.matrix.cross_signing import member_keys
from homeward.store.db import NotActing, Store
from homeward.work.services import Services
from homeward.work.trust import SHARE_WITH, Verdict, keys_learned, tell_no_identity, verdict_of

log = logging.getLogger(__name__)

#: An untrusted message's sender's keys are asked for again (the signature may be new) at most this often.
REQUERY_EVERY_S = 10.0
#: Members whose homeserver did not answer for their keys are asked again at most this often.
UNKNOWN_RETRY_S = 300.0
#: An account seen with devices and no cross-signing is looked at again this much later before its care
#: rooms are told (Element uploads a new login's device keys a second before it sets up cross-signing).
NO_IDENTITY_GRACE_S = 30.0


class MemberDevices:
    """The bot's trust in members' devices, applied to one nio client."""

    def __init__(self, client: AsyncClient, store: Store, services: Services, enabled: bool) -> None:
        self.client = client
        self.store = store
        self.services = services
        self.enabled = enabled
        self._asked: dict[str, float] = {}  # user -> when their keys were last asked for (monotonic)
        self._marked: dict[str, int] = {}  # user -> how many devices nio had for them when they were marked
        self._pending: dict[str, asyncio.Task[None]] = {}  # user -> the later look at an account without identity
        self._withheld: dict[str, str] = {}  # room -> the room key its unverified devices were told was withheld
        self._unrecorded: set[str] = set()  # accounts whose keys this process learned while standing by

    @property
    def book(self) -> Any:
        return self.services.trust

    async def start(self) -> None:
        """Read the trust book, and mark every device nio already knows."""
        async with self.store.read() as db:
            await self.book.load(db)
        if not self.enabled or self.client.olm is None:
            self._unmark_all()
            return
        self.mark([user for user, _ in self.client.device_store.items()])

    async def acting(self) -> None:
        """This process acts from now on (after standing by, on a shared store): the trust book read
        afresh, every device marked by it, and the accounts whose keys it learned while standing by
        asked for again, so that what they show is recorded before anything is shared with them."""
        await self.start()
        if self._unrecorded and self.client.olm is not None:
            self.client.olm.users_for_key_query.update(self._unrecorded)
            self._unrecorded.clear()

    def _unmark_all(self) -> None:
        """`device_trust = "any"`: lift the marks an earlier run under "cross-signed" left in nio's store."""
        if self.client.olm is None:
            return
        for device in self.client.device_store:
            if device.trust_state == TrustState.blacklisted:
                self.client.unblacklist_device(device)

    # -- learning ------------------------------------------------------------------------

    async def on_keys(self, response: KeysQueryWithIdentities) -> None:
        """A `/keys/query` answer nio has taken in: record each account's identity, then mark its devices."""
        raw = response.as_dict()
        users = [u for u in raw["device_keys"] if isinstance(u, str) and u != self.client.user_id]
        now = time.monotonic()
        for user in users:
            self._asked[user] = now
        if not users:
            return
        found = [member_keys(raw, user) for user in users]
        try:
            await keys_learned(self.store, self.services, found)
        except NotActing:
            # A standby records nothing (the acting process asks for the same keys itself); it asks
            # for them again when it takes over (`acting`), so that they are recorded then.
            self._unrecorded.update(users)
            return
        if self.enabled:
            self.mark(users)
            for keys in found:
                if keys.master is None and keys.devices and keys.user_id not in self._pending:
                    self._pending[keys.user_id] = asyncio.create_task(self._no_identity_later(keys.user_id))

    async def _no_identity_later(self, user_id: str) -> None:
        """A while later: if the account still shows no cross-signing, its care rooms are told (once)."""
        try:
            await asyncio.sleep(NO_IDENTITY_GRACE_S)
            async with self.client.crypto_lock:
                await self._query([user_id])
            identity = self.book.identity(user_id)
            if identity is not None and identity.master_key is None:
                await tell_no_identity(self.store, self.services, user_id)
        except NotActing:
            pass  # a standby tells nobody: the acting process looks at the account itself
        except Exception:  # a look-later must never take the bot down
            log.exception("could not tell the care rooms of an account without cross-signing")
        finally:
            self._pending.pop(user_id, None)

    def stop(self) -> None:
        for task in self._pending.values():
            task.cancel()

    def mark(self, users: Iterable[str]) -> None:
        """Mark the devices of `users` in nio's store: trusted ones verified, every other one blacklisted."""
        client = self.client
        for user in users:
            for device in list(client.device_store.active_user_devices(user)):
                if self._trusted(device):
                    if device.trust_state != TrustState.verified:
                        client.verify_device(device)
                elif device.trust_state != TrustState.blacklisted:
                    client.blacklist_device(device)
            self._marked[user] = len(client.device_store[user])

    def _trusted(self, device: OlmDevice) -> bool:
        if device.user_id == self.client.user_id:
            return False  # the bot has one device; any other of its account gets nothing
        return bool(self.book.trusts(device.user_id, device.id, device.ed25519, device.curve25519))

    async def _query(self, users: Iterable[str]) -> None:
        """Ask the homeserver for these accounts' keys now (the caller holds the crypto lock)."""
        client = self.client
        if client.olm is None:
            return
        client.olm.users_for_key_query.update(users)
        try:
            await client.keys_query()
        except LocalProtocolError as exc:
            log.debug("key query skipped: %s", exc)

    # -- before a message goes out -------------------------------------------------------

    def _members(self, room_id: str) -> list[str]:
        room = self.client.rooms.get(room_id)
        return [u for u in (room.users if room else ()) if u != self.client.user_id]

    def _unknown(self, users: Iterable[str], now: float) -> list[str]:
        """Members whose keys the bot never learned and has not asked for lately."""
        return [
            u for u in users if not self.book.known(u) and now - self._asked.get(u, -UNKNOWN_RETRY_S) >= UNKNOWN_RETRY_S
        ]

    def keys_due(self, room_id: str) -> bool:
        """Whether keys must be asked for before the room's next message: the sender then asks under the
        exclusive side of the crypto lock (a key query changes which devices get a room key)."""
        client = self.client
        if client.olm is None:
            return False
        if client.should_query_keys:
            return True
        return self.enabled and bool(self._unknown(self._members(room_id), time.monotonic()))

    async def before_send(self, room_id: str, query: bool = True) -> None:
        """Ask for keys that are due (only with `query`: the caller holds the crypto lock alone), then
        mark the devices of everyone in the room."""
        client = self.client
        if client.olm is None:
            return
        users = self._members(room_id)
        if query:
            if self.enabled:
                now = time.monotonic()
                unknown = self._unknown(users, now)
                for user in unknown:
                    self._asked[user] = now
                client.olm.users_for_key_query.update(unknown)
            if client.should_query_keys:
                try:
                    await client.keys_query()
                except LocalProtocolError as exc:
                    log.debug("key query skipped: %s", exc)
        if self.enabled:
            await self._fresh()  # a coordinator's `!trust` since: those accounts read again and marked anew
            # Every device nio learns of comes through `on_keys`, which marks it; this only makes sure of
            # it, cheaply: an account whose number of devices moved since it was marked is marked again.
            device_store = client.device_store
            self.mark([u for u in users if self._marked.get(u) != len(device_store[u])])

    @asynccontextmanager
    async def one_message_for(self, content: dict[str, Any]) -> AsyncIterator[None]:
        """A refusal for a device the bot does not trust (how to verify it) is shared with that device
        too, for that one message: it is unmarked, the message goes with a new room key, and it is
        marked again, which starts yet another room key for whatever comes next."""
        target = content.pop(SHARE_WITH, None)
        device = None
        if self.enabled and isinstance(target, dict):
            devices = self.client.device_store[target.get("user_id", "")] if self.client.olm else {}
            device = devices.get(target.get("device_id", ""))
        if device is None or device.trust_state != TrustState.blacklisted:
            yield
            return
        self.client.unblacklist_device(device)
        try:
            yield
        finally:
            self.client.blacklist_device(device)

    async def tell_withheld(self, room_id: str) -> None:
        """After a message went with a new room key: tell each blacklisted device of the room's members
        that it was withheld from it because it is not verified (`m.room_key.withheld`, code
        `m.unverified`), once per room key. Element then shows, instead of "Unable to decrypt", that the
        sender blocked the message because the device is unverified. Sent in clear, like every withheld
        notice: it names the room and the key's id, which the homeserver knows anyway."""
        client, olm = self.client, self.client.olm
        session = olm.outbound_group_sessions.get(room_id) if self.enabled and olm is not None else None
        if session is None or not session.shared or self._withheld.get(room_id) == session.id:
            return
        self._withheld[room_id] = session.id
        room = client.rooms.get(room_id)
        content = {
            "algorithm": "m.megolm.v1.aes-sha2",
            "room_id": room_id,
            "session_id": session.id,
            "sender_key": olm.account.identity_keys["curve25519"],
            "code": "m.unverified",
            "reason": "The sender only shares keys with devices their owner has verified.",
        }
        for user in room.users if room is not None else ():
            for device in client.device_store.active_user_devices(user):
                if device.trust_state == TrustState.blacklisted and device.id != client.device_id:
                    with contextlib.suppress(*CONNECTION_ERRORS):
                        await client.to_device(ToDeviceMessage("m.room_key.withheld", user, device.id, content))

    # -- who sent it ---------------------------------------------------------------------

    async def event_verdict(self, room_id: str, event: Any) -> tuple[Verdict, str | None]:
        """Whether the device that encrypted a decrypted event is trusted, and which device it is.

        Decided from the Megolm session the event was decrypted with: its sender (Curve25519) key,
        proven by the Olm channel that brought the room key, and the Ed25519 key it claimed. A room
        key forwarded by another device proves nothing about the sender and is not trusted.
        """
        if not self.enabled:
            return Verdict.TRUSTED, None
        sender, curve = event.sender, getattr(event, "sender_key", None)
        olm = self.client.olm
        session = (
            olm.inbound_group_store.get(room_id, curve, getattr(event, "session_id", None))
            if olm is not None and curve
            else None
        )
        if session is None or session.forwarding_chain or not isinstance(curve, str):
            return Verdict.UNKNOWN, None
        verdict, device_id = await self._judge(sender, curve, session.ed25519)
        if verdict is not Verdict.TRUSTED and self._may_ask_again(sender):
            # A device verified a moment ago: its new signature may not have reached the bot yet.
            async with self.client.crypto_lock:
                await self._query([sender])
            verdict, device_id = await self._judge(sender, curve, session.ed25519)
        if device_id is None and olm is not None:
            found = self.client.device_store.device_from_sender_key(sender, curve)
            device_id = found.id if found is not None else None
        return verdict, device_id

    async def _judge(self, user_id: str, curve: str, ed25519: str | None) -> tuple[Verdict, str | None]:
        await self._fresh()
        return verdict_of(self.book, user_id, curve, ed25519)

    async def _fresh(self) -> None:
        """The trust book read again where a unit of work changed it (a restore); their devices marked anew."""
        if self.book.stale:
            async with self.store.read() as db:
                refreshed = await self.book.refresh(db)
            if self.enabled and self.client.olm is not None:
                self.mark(refreshed)

    def _may_ask_again(self, user_id: str) -> bool:
        now = time.monotonic()
        if now - self._asked.get(user_id, -REQUERY_EVERY_S) < REQUERY_EVERY_S:
            return False
        self._asked[user_id] = now
        return True

    async def account_verdict(self, user_id: str) -> tuple[Verdict, list[str]]:
        """For what arrives in clear (a reaction): trusted only while every device of the account is.

        The ids of the devices that are not, when some are.
        """
        if not self.enabled:
            return Verdict.TRUSTED, []
        await self._fresh()
        if not self.book.known(user_id) and self._may_ask_again(user_id):
            async with self.client.crypto_lock:
                await self._query([user_id])
        identity = self.book.identity(user_id)
        devices = list(self.client.device_store.active_user_devices(user_id)) if self.client.olm else []
        untrusted = sorted(d.id for d in devices if not self._trusted(d))
        if identity is None:
            return Verdict.UNKNOWN, untrusted
        if identity.changed:
            return Verdict.IDENTITY_CHANGED, untrusted
        if identity.master_key is None:
            return Verdict.NO_IDENTITY, untrusted
        if untrusted or not devices:
            return (Verdict.UNSIGNED if devices else Verdict.UNKNOWN), untrusted
        return Verdict.TRUSTED, []


def keys_due(client: AsyncClient, room_id: str, content: dict[str, Any]) -> bool:
    """Whether the room's next message must go alone (the exclusive side of the crypto lock, no other
    room's send beside it): keys are to be asked for first, or it is a refusal let through to one
    device the bot does not trust, which must get no other room's key meanwhile."""
    if SHARE_WITH in content:
        return True
    devices: MemberDevices | None = getattr(client, "member_devices", None)
    if devices is None:
        return bool(client.olm and client.should_query_keys)
    return devices.keys_due(room_id)


@asynccontextmanager
async def room_keys(client: AsyncClient, room_id: str, content: dict[str, Any], alone: bool) -> AsyncIterator[None]:
    """Around one encrypted send: the room's member devices marked as the bot trusts them, and a
    refusal's one device let in for it. `alone`: the caller holds the crypto lock's exclusive side,
    so keys that are due are asked for first (`keys_due` says when it must).

    Without a MemberDevices on the client (tests of the sender alone), only nio's key query, as before.
    """
    devices: MemberDevices | None = getattr(client, "member_devices", None)
    if devices is None:
        content.pop(SHARE_WITH, None)
        if alone and client.olm and client.should_query_keys:
            await client.keys_query()
        yield
        return
    await devices.before_send(room_id, query=alone)
    if alone:
        async with devices.one_message_for(content):
            yield
    else:
        content.pop(SHARE_WITH, None)  # a room without encryption: nobody to let in
        yield
    await devices.tell_withheld(room_id)
