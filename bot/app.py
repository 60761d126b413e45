"""The running bot: session, sync loop, outbox sender, and the routing between them.

callbacks (this module) → command parser → handlers → storage, each in its own module.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Coroutine
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

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
from homeward.bot.events import POLL_RESPONSES, command_from, is_ack_reaction, thread_root, vote_from
from homeward.bot.sender import OutboxSender
from homeward.bot.session import Session
from homeward.bot.sync import SyncLoop
from homeward.care.pathway import configured_pathways
from homeward.clock import Clock, ShiftedClock
from homeward.commands.context import IncomingCommand
from homeward.commands.dispatch import handle_command, handle_reaction, handle_vote
from homeward.commands.registry import registry
from homeward.config import Config, ConfigError
from homeward.messages.catalog import Catalog
from homeward.store.db import Store
from homeward.store.state import list_undecrypted
from homeward.work import invites, undecryptable
from homeward.work.departures import member_left
from homeward.work.integrity import check_chains
from homeward.work.joins import member_joined, remove_strangers
from homeward.work.room_state import bot_name, bring_rooms_in_step, profile_name_changed
from homeward.work.scheduler import ReminderScheduler
from homeward.work.services import Services

log = logging.getLogger(__name__)

UNDECRYPTED_POLL_S = 2.0


class HomewardBot:
    """One bot account serving all its rooms."""

    def __init__(self, config: Config, clock: Clock | None = None) -> None:
        self.config = config
        self.clock = clock or (
            ShiftedClock(timedelta(seconds=config.time_shift_seconds)) if config.time_shift_seconds else Clock()
        )
        self.catalog = Catalog()
        self.store: Store | None = None
        self.client: AsyncClient | None = None
        self.ready = asyncio.Event()  # set once the first sync after start was handled
        self._tasks: list[asyncio.Task[None]] = []
        self.failed: str | None = None  # the loop that stopped the bot, if one did

    async def start(self) -> None:
        """Load the pathways, open the store, log in, check the audit record, and start the loops in the background."""
        problems = registry.unknown_rate_limits(self.config.rate_limits)
        if problems:
            raise ConfigError(problems)
        logs.configure(self.config.log_level, self.config.debug_loggers)
        pathways = configured_pathways(self.config.pathways_dir)
        make_private(self.config.data_dir)  # before anything is written there
        if not self.config.encryption:
            log.warning("encryption = false: nothing is sent into encrypted rooms (every care room is encrypted)")
        self.store = await Store.open(self.config.store_path)
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
        self.crypto_lock = self.client.crypto_lock  # sync handling and sending are serialised (bot/client.py)
        self.sender = OutboxSender(self.client, self.store, self.clock, self.crypto_lock, self.config.encryption)
        self.services = Services(
            config=self.config,
            catalog=self.catalog,
            clock=self.clock,
            pathways=pathways,
            wake_outbox=self.sender.wake,
            display_name=self._display_name,
        )
        if await self._set_profile_name():
            await profile_name_changed(self.store)
        # Rooms named, levelled or fenced by an older release or setting: brought in step once
        # (state rows in the outbox).
        await bring_rooms_in_step(self.store, self.services)
        self.reminders = ReminderScheduler(self.store, self.services, self.clock)
        self.services.wake_reminders = self.reminders.wake
        await check_chains(self.store, self.services)  # tells the coordinators through the outbox; the bot runs on
        await self.reminders.start()
        self.sync = SyncLoop(self.client, self.store, self, self.crypto_lock)
        self._tasks = [
            asyncio.create_task(self._guard(self.sync.run(), "sync")),
            asyncio.create_task(self._guard(self.sender.run(), "outbox")),
            asyncio.create_task(self._guard(self._retry_undecrypted_forever(), "undecrypted")),
        ]
        log.info("bot %s started as device %s", self.config.user_id, self.client.device_id)

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
        except Exception:
            log.exception("the %s loop stopped with an error; stopping the bot", name)
            self.failed = name
            for task in self._tasks:
                if task is not asyncio.current_task():
                    task.cancel()

    def clock_jumped(self) -> None:
        """Tests and demos moved the clock: fire what is now due, re-aim at the next reminder."""
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
        if getattr(self, "reminders", None):
            self.reminders.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
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
        if isinstance(event, (MegolmEvent, UnknownEncryptedEvent)):
            await self._remember_undecrypted(room_id, event)  # no key yet, or an algorithm we do not speak
        elif isinstance(event, RoomMessageText):
            room = self.client.rooms.get(room_id)
            incoming = command_from(room_id, event, self.client.user_id, room_encrypted=bool(room and room.encrypted))
            if incoming:
                incoming = replace(incoming, private=self._private(room_id, incoming.sender))
                await handle_command(incoming, self.store, self.services)
        elif isinstance(event, ReactionEvent):
            await self._on_reaction(room_id, event)
        elif isinstance(event, UnknownEvent) and event.type in POLL_RESPONSES:
            vote = vote_from(room_id, event, self.client.user_id)
            if vote is not None and await self._may_speak_for(vote.event):
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

    async def _may_speak_for(self, event: IncomingCommand) -> bool:
        """Whether the device that sent `event` may act for its sender: a vote counts only from a verified device.

        The one check a vote passes before it is counted (issue 22 gives the bot its members' device
        trust and gates every command, reply and reaction where it is routed; this is where a vote
        meets that gate). Until then every device may."""
        del event
        return True

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
        await handle_reaction(room_id, event.event_id, event.sender, event.reacts_to, self.store, self.services)

    async def after_batch(self) -> None:
        if not self.ready.is_set():
            # The first sync brought every room's full state: anyone in a care room (joined or
            # invited) without a place on the team is removed, also those from before this release.
            assert self.client and self.store
            present = {room_id: set(room.users) for room_id, room in self.client.rooms.items()}
            await remove_strangers(self.store, self.services, present)
        self.ready.set()
        self.sender.wake()  # rooms joined in this batch are now known to nio

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
