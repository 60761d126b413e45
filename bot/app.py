"""The running bot: session, sync loop, outbox sender, and the routing between them.

callbacks (this module) → command parser → handlers → storage, each in its own module.

On SQLite the process acts from the start. On a shared PostgreSQL store it acts only while it
holds the lease (bot/lease.py) and otherwise stands by: it syncs and decrypts, handles
nothing, sends nothing, schedules nothing. Taking over, it handles what it missed
(`SyncLoop.catch_up`), brings the rooms in step, checks the chains, starts the reminders, and
sends the outbox, looking first in the rooms for what the previous process sent but did not
mark (bot/takeover.py). Losing the lease, it stops all of that and stands by again.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import json
import logging
from collections.abc import Coroutine
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from nio import (
    AsyncClient,
    BadEvent,
    Event,
    JoinError,
    MegolmEvent,
    ProfileGetDisplayNameResponse,
    ProfileSetDisplayNameResponse,
    ReactionEvent,
    RoomGetStateEventResponse,
    RoomGetStateResponse,
    RoomMemberEvent,
    RoomMessageText,
    UnknownBadEvent,
    UnknownEncryptedEvent,
    UnknownEvent,
)
from nio.exceptions import EncryptionError

import homeward.commands.handlers  # noqa: F401  (registers every command)
from homeward import logs
from homeward.bot.data_dir import make_private
from homeward.bot.devices import MemberDevices
from homeward.bot.edits import edit_from
from homeward.bot.events import POLL_RESPONSES, command_from, is_ack_reaction, thread_root, vote_from
from homeward.bot.lease import SEND_MARGIN_S, LeaseKeeper
from homeward.bot.sender import OutboxSender
from homeward.bot.session import Session
from homeward.bot.sync import SyncLoop
from homeward.bot.takeover import SentBefore
from homeward.care.pathway import Pathway, configured_pathways
from homeward.clock import Clock, ShiftedClock
from homeward.commands.dispatch import handle_command, handle_reaction, handle_vote
from homeward.commands.registry import registry
from homeward.config import Config, ConfigError
from homeward.messages.catalog import Catalog
from homeward.store import outbox
from homeward.store.db import Fence, NotActing, Store, StoreUnavailable, open_store
from homeward.store.lease import LeaseState
from homeward.store.room_state import case_rooms
from homeward.store.state import list_undecrypted
from homeward.work import invites, safeguards, undecryptable
from homeward.work.anchors import anchor_cases
from homeward.work.consents import answer_edited
from homeward.work.departures import member_left
from homeward.work.integrity import check_chains
from homeward.work.joins import member_joined, remove_strangers
from homeward.work.room_state import (
    WATCHED,
    bot_name,
    bring_rooms_in_step,
    drift_suspected,
    profile_name_changed,
    put_back,
)
from homeward.work.servers import remove_outside_servers
from homeward.work.services import Services
from homeward.work.trust import Verdict

if TYPE_CHECKING:
    from homeward.work.scheduler import ReminderScheduler

log = logging.getLogger(__name__)

UNDECRYPTED_POLL_S = 2.0
#: How long after a change of a room's state the bot reads the room's state to compare it.
STATE_SETTLE_S = 1.0
#: How long the reminders' start waits for the outbox to send the first sync's answers.
FIRST_ANSWERS_S = 2.0
#: How often the bot looks for cases whose audit chains grew (each is anchored at most once a day).
ANCHOR_SWEEP_S = 600.0


class HomewardBot:
    """One bot account serving all its rooms."""

    def __init__(self, config: Config, clock: Clock | None = None, pathways: dict[str, Pathway] | None = None) -> None:
        """`pathways`: the configured pathways when the caller has read them already (`homeward run` checks them
        first); read at start otherwise."""
        self.config = config
        self._pathways = pathways
        self.clock = clock or (
            ShiftedClock(timedelta(seconds=config.time_shift_seconds)) if config.time_shift_seconds else Clock()
        )
        self.catalog = Catalog()
        self.store: Store | None = None
        self.client: AsyncClient | None = None
        self.ready = asyncio.Event()  # set once the first sync after start was handled
        self._tasks: list[asyncio.Task[None]] = []
        self._acting_tasks: list[asyncio.Task[None]] = []
        self.failed: str | None = None  # the loop that stopped the bot, if one did
        self.lease: LeaseKeeper | None = None  # a shared store's lease; None on SQLite (always acting)
        self._acting = False
        self._strangers_checked = False
        self._takeover = asyncio.Lock()  # acting begins and ends one at a time
        self.reminders: ReminderScheduler | None = None
        self._reminders_start: asyncio.Task[None] | None = None  # on taking over: after the first batch
        self._cross_signing: asyncio.Task[None] | None = None  # a restarted device's identity check
        #: Care rooms whose actual state is to be compared with what it should be (`_put_back_state_forever`).
        self._state_checks: asyncio.Queue[str] = asyncio.Queue()
        self._state_queued: set[str] = set()

    @property
    def acting(self) -> bool:
        """Whether this process acts: handles events, sends, schedules (always, on SQLite)."""
        return self._acting and (self.lease is None or self.lease.held())

    async def start(self) -> None:
        """Load the pathways, open the store, log in, check the audit record, and start the loops in the background."""
        problems = registry.unknown_rate_limits(self.config.rate_limits)
        if problems:
            raise ConfigError(problems)
        logs.configure(self.config.log_level, self.config.debug_loggers)
        pathways, self._pathways = self._pathways or configured_pathways(self.config.pathways_dir), None
        make_private(self.config.data_dir)  # before anything is written there
        if not self.config.encryption:
            log.warning("encryption = false: nothing is sent into encrypted rooms (every care room is encrypted)")
        self.store = await open_store(self.config.database.get_secret_value(), self.config.data_dir)
        session = Session(
            homeserver=self.config.homeserver,
            user_id=self.config.user_id,
            data_dir=self.config.data_dir,
            device_name=self.config.device_name,
            password=self.config.password.get_secret_value() if self.config.password else None,
            access_token=self.config.access_token.get_secret_value() if self.config.access_token else None,
            encryption=self.config.encryption,
            configured_store_key=self.config.store_key.get_secret_value() if self.config.store_key else None,
        )
        self.client = await session.connect()
        self._cross_signing = session.cross_signing
        self.crypto_lock = self.client.crypto_lock  # sync handling and sending are serialised (bot/client.py)
        self.sender = self._new_sender()
        self.services = Services(
            config=self.config,
            catalog=self.catalog,
            clock=self.clock,
            pathways=pathways,
            wake_outbox=lambda: self.sender.wake(),
            display_name=self._display_name,
        )
        # Members' devices: only those their pinned identity signed get room keys and act (bot/devices.py).
        self.devices = MemberDevices(
            self.client, self.store, self.services, enabled=self.config.device_trust == "cross-signed"
        )
        await self.devices.start()
        self.client.member_devices = self.devices
        self.client.on_keys = self.devices.on_keys
        self.sync = SyncLoop(self.client, self.store, self, self.crypto_lock)
        if self.store.shared:
            url = self.config.database_url
            assert url is not None
            self.lease = LeaseKeeper(url, self.client.device_id, self._take_over, self._stand_by)
            await self.lease.step()  # acts at once when the lease is free
            await self.lease.settled()
            if not self._acting:
                log.info("another process acts: this one stands by (device %s)", self.client.device_id)
        else:
            await self._start_acting()
        self._tasks = [
            asyncio.create_task(self._guard(self.sync.run(), "sync")),
            asyncio.create_task(self._guard(self._retry_undecrypted_forever(), "undecrypted")),
        ]
        if self.lease is not None:
            self._tasks.append(asyncio.create_task(self._guard(self.lease.run(), "lease")))
        log.info("bot %s started as device %s", self.config.user_id, self.client.device_id)

    def _new_sender(self) -> OutboxSender:
        assert self.client and self.store
        sender = OutboxSender(
            self.client,
            self.store,
            self.clock,
            self.crypto_lock,
            self.config.encryption,
            concurrency=self.config.outbox_concurrency,
        )
        if self.lease is not None:
            lease = self.lease
            sender.may_send = lambda: lease.held(SEND_MARGIN_S)
            sender.time_left = lambda: lease.seconds_left(SEND_MARGIN_S / 2)
            sender.mark_rows = True
        return sender

    async def _start_acting(self, sent_before: SentBefore | None = None) -> None:
        """Begin to act: the rooms in step, the chains checked, the reminders and the outbox going."""
        assert self.store and self.client
        self.sender = self._new_sender()
        self.sender.sent_before = sent_before
        self._strangers_checked = False
        await self.devices.acting()
        if await self._set_profile_name():
            await profile_name_changed(self.store)  # the rooms' names say it anew (bring_rooms_in_step, next)
        # Rooms named, levelled or fenced by an older release or setting: brought in step once
        # (state rows in the outbox).
        await bring_rooms_in_step(self.store, self.services)
        # A server taken out of `allowed_servers`: its users leave every care team and room (issue 23).
        await remove_outside_servers(self.store, self.services)
        self.reminders = None  # made and started after the first batch (`_start_reminders`)
        self.services.wake_reminders = lambda: None  # their start reads what commands scheduled meanwhile
        await check_chains(self.store, self.services)  # tells the coordinators through the outbox; the bot runs on
        # The reminders start after the first sync's batch is handled and its answers are sent (`after_batch`):
        # their start imports APScheduler, schedules every case's worklists and makes the holiday calendars,
        # which no answer waits for.
        self._reminders_start = None
        self._acting = True
        self._acting_tasks = [
            asyncio.create_task(self._guard(self.sender.run(), "outbox")),
            asyncio.create_task(self._guard(self._put_back_state_forever(), "room state")),
            asyncio.create_task(self._guard(self._anchor_forever(), "audit anchors")),
        ]

    async def _take_over(self, fence: Fence, before: LeaseState | None) -> None:
        """The lease is this process's: act (called by the lease loop)."""
        assert self.store and self.client
        async with self._takeover:
            self.store.fence = fence
            why = (
                "the store had no acting process"
                if before is None
                else f"{before.holder} released the lease"
                if before.expires_ms == 0
                else f"{before.holder} stopped renewing the lease ({-before.seconds_left:.1f} s ago)"
            )
            log.warning(
                "this process acts now (device %s, lease token %d): %s", self.client.device_id, fence.token, why
            )
            sent_before = None
            if before is not None and before.device_id != self.client.device_id:
                # Another device acted: what it may have sent but not marked is looked for before it is sent again.
                async with self.store.read() as db:
                    suspects = {row.id: row.room_id for row in await outbox.pending(db, limit=10_000)}
                sent_before = SentBefore(self.client, suspects)
            try:
                await self._start_acting(sent_before)
            except NotActing:
                log.warning("the lease was lost while taking over")
                return
        self.sender.wake()

    async def _stand_by(self, reason: str) -> None:
        """The lease is lost: stop acting at once (called by the lease loop)."""
        async with self._takeover:
            was_acting, self._acting = self._acting, False
            if self.store:
                self.store.fence = None
            if self.reminders:
                self.reminders.stop()
            for task in self._acting_tasks:
                task.cancel()
            await asyncio.gather(*self._acting_tasks, return_exceptions=True)
            self._acting_tasks = []
            if self.reminders:  # again: a start cancelled above may have started the scheduler before it stopped
                self.reminders.stop()
            if was_acting:
                log.warning("this process stops acting and stands by: %s", reason)

    async def _set_profile_name(self) -> bool:
        """The account's display name, in the configured language, saying it is a bot; True when it changed.

        A direct chat shows this name; each care room gets its own, in the room's language (`work.room_state`).
        A homeserver that refuses (a read-only profile) leaves the name as it was: logged, the bot runs on."""
        assert self.client
        wanted = bot_name(self.services, self.config.language)
        current = await self.client.get_displayname(self.config.user_id)
        if isinstance(current, ProfileGetDisplayNameResponse) and current.displayname == wanted:
            return False
        answer = await self.client.set_displayname(wanted)
        if not isinstance(answer, ProfileSetDisplayNameResponse):
            log.warning("the bot's display name could not be set: %s", getattr(answer, "message", answer))
            return False
        log.info("the bot's display name is set")
        return True

    async def _guard(self, job: Coroutine[Any, Any, None], name: str) -> None:
        try:
            await job
        except asyncio.CancelledError:
            raise
        except NotActing:
            log.warning("the %s loop stopped: this process no longer acts", name)
        except Exception:
            log.exception("the %s loop stopped with an error; stopping the bot", name)
            self.failed = name
            for task in self._tasks:
                if task is not asyncio.current_task():
                    task.cancel()

    def clock_jumped(self) -> None:
        """Tests and demos moved the clock: fire what is now due, re-aim at the next reminder."""
        if self.reminders:
            self.reminders.wake()

    async def wait(self) -> None:
        """Until the loops end (a fatal error) or the caller is cancelled (Ctrl-C, SIGTERM)."""
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def run_forever(self) -> None:
        await self.start()
        try:
            await self.wait()
        finally:
            await self.stop()

    async def stop(self) -> None:
        if self.reminders:
            self.reminders.stop()
        if getattr(self, "devices", None):
            self.devices.stop()
        checking = [self._cross_signing] if self._cross_signing else []
        for task in [*self._tasks, *self._acting_tasks, *checking]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._acting_tasks, *checking, return_exceptions=True)
        self._tasks, self._acting_tasks, self._cross_signing = [], [], None
        if self.reminders:  # again: a start cancelled above may have started the scheduler before it stopped
            self.reminders.stop()
        if self.lease is not None:
            await self.lease.release()
        if self.client:
            await self.client.close()
        if self.store:
            await self.store.close()
            self.store = None
        log.info("bot stopped")

    # -- SyncHandler -------------------------------------------------------------------

    async def on_invite(self, room_id: str, inviter: str, is_direct: bool) -> None:
        assert self.client and self.store
        if not self.config.inviter_allowed(inviter):
            await self.client.room_leave(room_id)
            log.warning("room=%s declined an invite from %s (not in allowed_inviters)", room_id, inviter)
            return
        if await invites.was_removed(self.store, room_id):
            await self.client.room_leave(room_id)
            log.info("room=%s declined an invite back into a removed case", room_id)
            return
        response = await self.client.join(room_id)
        if isinstance(response, JoinError):
            log.warning("room=%s could not join: %s", room_id, response.message)
            return
        # A worklist names the person's cases: it goes only into a direct chat that is encrypted.
        worklist_chat = is_direct and await self._encrypted(room_id)
        await invites.joined_on_invite(
            self.store, self.services, room_id, inviter, is_direct=is_direct, worklist_chat=worklist_chat
        )

    async def on_timeline_event(self, room_id: str, event: Event) -> None:
        assert self.client and self.store
        source = event.source if isinstance(event.source, dict) else {}
        kind = source.get("type")
        if kind == "m.room.redaction":
            # Redactions are never encrypted; in room version 11 `redacts` is in the content.
            target = source.get("redacts") or (source.get("content") or {}).get("redacts")
            sender = source.get("sender")
            if isinstance(target, str) and isinstance(sender, str) and isinstance(source.get("event_id"), str):
                await safeguards.redacted(self.store, self.services, room_id, source["event_id"], sender, target)
            return
        # Someone changed the room's name, topic, power levels or ACL: compared with the room a moment later.
        if (
            kind in WATCHED
            and source.get("state_key") == ""
            and await drift_suspected(self.store, self.services, room_id, kind, source.get("content"))
        ):
            self._check_state(room_id)
        if isinstance(event, (MegolmEvent, UnknownEncryptedEvent)):
            await self._remember_undecrypted(room_id, event)  # no key yet, or an algorithm we do not speak
        elif isinstance(event, RoomMessageText):
            room = self.client.rooms.get(room_id)
            incoming = command_from(room_id, event, self.client.user_id, room_encrypted=bool(room and room.encrypted))
            if incoming:
                incoming = replace(incoming, private=self._private(room_id, incoming.sender))
                if incoming.encrypted:
                    verdict, device_id = await self.devices.event_verdict(room_id, event)
                    untrusted = None if verdict is Verdict.TRUSTED else verdict.value
                    incoming = replace(incoming, untrusted=untrusted, device_id=device_id)
                await handle_command(incoming, self.store, self.services)
            elif (edit := edit_from(event, self.client.user_id)) is not None:
                # An edit of a consent answer changes nothing recorded: its author is told so.
                await answer_edited(self.store, self.services, room_id, event.event_id, event.sender, *edit)
        elif isinstance(event, ReactionEvent):
            await self._on_reaction(room_id, event)
        elif isinstance(event, UnknownEvent) and event.type in POLL_RESPONSES:
            vote = vote_from(room_id, event, self.client.user_id)
            if vote is not None:
                if vote.event.encrypted:  # the device that voted: trusted, or the vote acts on nothing
                    verdict, device_id = await self.devices.event_verdict(room_id, event)
                    untrusted = None if verdict is Verdict.TRUSTED else verdict.value
                    vote = replace(vote, event=replace(vote.event, untrusted=untrusted, device_id=device_id))
                await handle_vote(vote.event, vote.poll, vote.selection, self.store, self.services)
        elif isinstance(event, RoomMemberEvent) and event.membership == "join" and event.prev_membership != "join":
            await member_joined(room_id, event.event_id, event.state_key, self.store, self.services)
        elif (
            isinstance(event, RoomMemberEvent)
            and event.membership in ("leave", "ban")
            and event.prev_membership in ("join", "invite")
        ):
            await member_left(
                room_id,
                event.event_id,
                event.state_key,
                event.sender,
                event.membership,
                event.prev_membership,
                self.store,
                self.services,
            )
        elif isinstance(event, (BadEvent, UnknownBadEvent)) and event.source.get("type") == "m.room.encrypted":
            await self._remember_undecrypted(room_id, event)  # malformed ciphertext: the sender is told too
        elif isinstance(event, (BadEvent, UnknownBadEvent)):
            log.warning(
                "room=%s event=%s malformed event ignored (%s)",
                room_id,
                getattr(event, "event_id", "?"),
                type(event).__name__,
            )

    def _display_name(self, room_id: str, user_id: str) -> str | None:
        """`user_id`'s display name in the room, from its member state as nio holds it (the first sync of every
        start asks for the full state); None for someone not in the room or without one. Never logged."""
        room = self.client.rooms.get(room_id) if self.client else None
        user = room.users.get(user_id) if room is not None else None
        name = user.display_name if user is not None else None
        return name if isinstance(name, str) and name.strip() and name != user_id else None

    async def _encrypted(self, room_id: str) -> bool:
        """Whether a room just joined is end-to-end encrypted: asked of the homeserver (nio learns
        the room's state only with the next sync)."""
        assert self.client
        response = await self.client.room_get_state_event(room_id, "m.room.encryption")
        return isinstance(response, RoomGetStateEventResponse) and bool(response.content.get("algorithm"))

    def _private(self, room_id: str, sender: str) -> bool:
        """Whether the room holds nobody but `sender` and the bot, joined or invited (nio's view of it)."""
        assert self.client
        room = self.client.rooms.get(room_id)
        if room is None:
            return False
        return (set(room.users) | set(room.invited_users)) <= {sender, self.client.user_id}

    async def _on_reaction(self, room_id: str, event: ReactionEvent) -> None:
        """✅ or 👍 on the bot's message for a notice counts as `!ack` by the reacting user."""
        assert self.store and self.client
        if event.sender == self.client.user_id or not is_ack_reaction(event.key):
            return
        if getattr(event, "decrypted", False) is True:  # Element X encrypts reactions; Element Web does not
            verdict, device_id = await self.devices.event_verdict(room_id, event)
            untrusted_device = device_id
        else:  # in clear, a reaction names no device: it counts while every device of the account is trusted
            verdict, devices = await self.devices.account_verdict(event.sender)
            untrusted_device = devices[0] if devices else None
        await handle_reaction(
            room_id,
            event.event_id,
            event.sender,
            event.reacts_to,
            self.store,
            self.services,
            untrusted=None if verdict is Verdict.TRUSTED else verdict.value,
            untrusted_device=untrusted_device,
        )

    async def after_batch(self) -> None:
        if self.acting and not self._strangers_checked:
            # The first sync brought every room's full state: anyone in a care room (joined or
            # invited) without a place on the team is removed, also those from before this release
            # (and, on taking over, those the previous process had not removed yet).
            assert self.client and self.store
            present = {room_id: set(room.users) for room_id, room in self.client.rooms.items()}
            await remove_strangers(self.store, self.services, present)
            self._strangers_checked = True
            # Every care room's actual state, compared with what it should be (in the background).
            async with self.store.read() as db:
                for row in await case_rooms(db):
                    self._check_state(row["room_id"])
        if self.acting:
            self.sender.wake()  # rooms joined in this batch are now known to nio
        if self.acting and self._reminders_start is None:
            # `ready` is set once they are started
            self._reminders_start = asyncio.create_task(self._guard(self._start_reminders(), "reminders"))
            self._acting_tasks.append(self._reminders_start)
        elif not self.acting or self._reminders_start is None or self._reminders_start.done():
            await self._identity_checked()
            self.ready.set()

    async def _start_reminders(self) -> None:
        """Start the reminders once the first batch's answers are on their way: what is due fires then.

        The outbox is given up to `FIRST_ANSWERS_S` to send what the batch queued (answers to the commands
        that came while the bot was down, the first thing anyone waits for), then the scheduler starts
        whether or not the outbox is done (the homeserver may be refusing: the reminders go on)."""
        assert self.store
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(FIRST_ANSWERS_S):
                await asyncio.sleep(0)  # the sender, woken above, reads the outbox first
                await self.sender.idle.wait()
        from homeward.work.scheduler import ReminderScheduler  # APScheduler: 0.1 s of imports, after the answers

        self.reminders = ReminderScheduler(self.store, self.services, self.clock)
        self.services.wake_reminders = self.reminders.wake
        await self.reminders.start()
        _give_back_memory()  # the first sync's full state, parsed and dropped, and what the start left
        await self._identity_checked()
        self.ready.set()

    async def _identity_checked(self) -> None:
        """The restarted device's cross-signing check, begun beside the first sync (bot/session.py), done."""
        if self._cross_signing is not None:
            task, self._cross_signing = self._cross_signing, None
            await task

    # -- the rooms' state ------------------------------------------------------------------

    def _check_state(self, room_id: str) -> None:
        if room_id not in self._state_queued:
            self._state_queued.add(room_id)
            self._state_checks.put_nowait(room_id)

    async def _put_back_state_forever(self) -> None:
        """One care room at a time: read its state from the homeserver and put back what someone changed
        (`work.room_state.put_back`). A moment after the change: the bot's own changes of it still on
        their way are in the outbox by then, and are not taken for someone else's."""
        assert self.client and self.store
        while True:
            room_id = await self._state_checks.get()
            await asyncio.sleep(STATE_SETTLE_S)
            self._state_queued.discard(room_id)
            response = await self.client.room_get_state(room_id)
            if not isinstance(response, RoomGetStateResponse):
                log.warning("room=%s could not read the room's state to compare it", room_id)
                continue
            await put_back(self.store, self.services, room_id, list(response.events))

    # -- the audit chains' anchors -----------------------------------------------------------

    async def anchor_now(self) -> int:
        """Anchor every case whose chains grew (at most once a day each, `work.anchors`); how many were."""
        assert self.store
        return await anchor_cases(self.store, self.services)

    async def _anchor_forever(self) -> None:
        while True:
            await asyncio.sleep(ANCHOR_SWEEP_S)  # not at once: a bot restarting often posts no more anchors
            try:
                await self.anchor_now()
            except Exception:
                log.exception("the audit chains could not be anchored; trying again later")

    # -- events we could not decrypt -----------------------------------------------------

    async def _remember_undecrypted(
        self, room_id: str, event: MegolmEvent | UnknownEncryptedEvent | BadEvent | UnknownBadEvent
    ) -> None:
        assert self.store and self.client
        # From the source: nio's UnknownBadEvent (no usable id, sender or timestamp) has no attributes for them.
        source = dict(event.source) if isinstance(event.source, dict) else {}
        event_id, sender = source.get("event_id"), source.get("sender")
        if not isinstance(event_id, str) or not isinstance(sender, str):
            log.warning("room=%s encrypted event without a usable id or sender ignored", room_id)
            return
        if sender == self.client.user_id:
            return
        await undecryptable.remember(self.store, self.services, room_id, event_id, sender, source)

    async def _retry_undecrypted_forever(self) -> None:
        while True:
            await asyncio.sleep(UNDECRYPTED_POLL_S)
            if self.acting:
                with contextlib.suppress(NotActing, StoreUnavailable):  # the lease lost meanwhile, the store away
                    await self.retry_undecrypted()

    async def retry_undecrypted(self) -> None:
        """Try again with the keys that arrived since; tell the sender once the grace is over."""
        assert self.store and self.client
        async with self.store.read() as db:
            rows = await list_undecrypted(db)
        now = self.clock.now()
        for row in rows:
            source = json.loads(row["event_json"])
            try:
                # Only a well-formed Megolm event can ever be decrypted; nio trips over some malformed ones.
                event = MegolmEvent.from_dict(source) if isinstance(source.get("unsigned", {}), dict) else None
                if isinstance(event, MegolmEvent):
                    event.room_id = row["room_id"]
                    decrypted = self.client.decrypt_event(event)
                else:
                    decrypted = None
            except EncryptionError:
                decrypted = None  # still no key for this session
            if decrypted is not None and not isinstance(decrypted, MegolmEvent):
                await undecryptable.forget(self.store, row["event_id"])
                log.info("room=%s event=%s decrypted on retry", row["room_id"], row["event_id"])
                await self.on_timeline_event(row["room_id"], decrypted)
                continue
            age = (now - datetime.fromisoformat(row["first_seen"])).total_seconds()
            if age > undecryptable.GIVE_UP_S:
                await undecryptable.forget(self.store, row["event_id"])
                log.warning("room=%s event=%s never became decryptable; given up", row["room_id"], row["event_id"])
            elif age > undecryptable.GRACE_S and row["notified_at"] is None:
                await undecryptable.tell_sender(
                    self.store,
                    self.services,
                    row["room_id"],
                    row["event_id"],
                    row["sender"],
                    source,
                    row["first_seen"],
                    thread_root(source.get("content")),
                )


def _give_back_memory() -> None:
    """Hand what the start-up left free back to the system (glibc keeps freed heap pages otherwise)."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)
