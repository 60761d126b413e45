"""The running bot: session, sync loop, outbox sender, and the routing between them.

callbacks (this module) → command parser → handlers → storage, each in its own module.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from nio import (
    AsyncClient, BadEvent, Event, JoinError, MegolmEvent, ReactionEvent, RoomGetStateEventResponse, RoomMemberEvent,
    RoomMessageText, UnknownBadEvent, UnknownEncryptedEvent,
)
from nio.exceptions import EncryptionError

import homeward.commands.handlers  # noqa: F401  (registers every command)
from homeward import logs
from homeward.bot.data_dir import make_private
from homeward.bot.events import command_from, is_ack_reaction, thread_root
from homeward.care.pathway import configured_pathways
from homeward.commands.departures import member_left
from homeward.commands.joins import member_joined, remove_strangers
from homeward.commands.room_state import bring_rooms_in_step
from homeward.commands.context import IncomingCommand, reply_relation
from homeward.bot.reminders import ReminderScheduler
from homeward.bot.sender import OutboxSender
from homeward.bot.session import Session
from homeward.bot.sync import SyncLoop
from homeward.commands.desk import record_direct_chat
from homeward.commands.dispatch import handle_command, handle_reaction
from homeward.commands.integrity import check_chains
from homeward.commands.registry import registry
from homeward.clock import Clock, ShiftedClock
from homeward.config import Config, ConfigError
from homeward.ratelimit import RateLimiter
from homeward.i18n import Catalog
from homeward.render import notice_content
from homeward.text import mention
from homeward.services import Services
from homeward.store import outbox
from homeward.store.db import Store
from homeward.store.desk import purged_room
from homeward.store.state import (
    add_undecrypted,
    forget_undecrypted,
    list_undecrypted,
    mark_undecrypted_notified,
    remember_room,
    room_info,
    was_handled,
)

log = logging.getLogger(__name__)

UNDECRYPTABLE_GRACE_S = 5.0  # room keys usually arrive within a sync or two
UNDECRYPTABLE_GIVE_UP_S = 3600.0
UNDECRYPTED_POLL_S = 2.0


class HomewardBot:
    """One bot account serving all its rooms."""

    def __init__(self, config: Config, clock: Clock | None = None) -> None:
        self.config = config
        self.clock = clock or (ShiftedClock(timedelta(seconds=config.time_shift_seconds)) if config.time_shift_seconds else Clock())
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
            registry=registry,
            clock=self.clock,
           
            pathways=pathways,
            wake_outbox=self.sender.wake,
            limiter=RateLimiter(self.config.rate_overrides),
        )
        # Rooms named, levelled or fenced by an older release or setting: brought in step once (state rows in the outbox).
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

    async def _guard(self, job: object, name: str) -> None:
        try:
            await job  # type: ignore[misc]
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
        async with self.store.read() as db:
            removed = await purged_room(db, room_id)
        if removed:  # a case whose retention run removed it: the bot does not come back
            await self.client.room_leave(room_id)
            log.info("room=%s declined an invite back into a removed case", room_id)
            return
        response = await self.client.join(room_id)
        if isinstance(response, JoinError):
            log.warning("room=%s could not join: %s", room_id, response.message)
            return
        # A worklist names the person's cases: it goes only into a direct chat that is encrypted.
        worklist_chat = is_direct and await self._encrypted(room_id)
        now = self.clock.now()
        async with self.store.transaction() as db:
            known = await room_info(db, room_id)
            if known is None:
                await remember_room(db, room_id, "direct" if is_direct else "other", self.config.language, now)
                await outbox.enqueue(db, room_id, "m.room.message", notice_content(self.catalog.t(self.config.language, "bot.greeting")), now)
            if worklist_chat and (known is None or known.kind != "case"):
                await record_direct_chat(db, self.services, inviter, room_id, now)  # where the inviter's worklist goes
        log.info("room=%s joined on invite (direct=%s)", room_id, is_direct)
        self.sender.wake()

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
        elif isinstance(event, RoomMemberEvent) and event.membership == "join" and event.prev_membership != "join":
            await member_joined(room_id, event.event_id, event.state_key, self.store, self.services)
        elif isinstance(event, RoomMemberEvent) and event.membership in ("leave", "ban") and event.prev_membership in ("join", "invite"):
            await member_left(room_id, event.event_id, event.state_key, event.sender, event.membership, event.prev_membership,
                              self.store, self.services)
        elif isinstance(event, (BadEvent, UnknownBadEvent)) and event.source.get("type") == "m.room.encrypted":
            await self._remember_undecrypted(room_id, event)  # malformed ciphertext: the sender is told too
        elif isinstance(event, (BadEvent, UnknownBadEvent)):
            log.warning("room=%s event=%s malformed event ignored (%s)", room_id, getattr(event, "event_id", "?"), type(event).__name__)

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

    async def _remember_undecrypted(self, room_id: str, event: MegolmEvent | UnknownEncryptedEvent | BadEvent | UnknownBadEvent) -> None:
        assert self.store and self.client
        # From the source: nio's UnknownBadEvent (no usable id, sender or timestamp) has no attributes for them.
        source = dict(event.source) if isinstance(event.source, dict) else {}
        event_id, sender = source.get("event_id"), source.get("sender")
        if not isinstance(event_id, str) or not isinstance(sender, str):
            log.warning("room=%s encrypted event without a usable id or sender ignored", room_id)
            return
        if sender == self.client.user_id:
            return
        async with self.store.transaction() as db:
            if await was_handled(db, event_id):
                return
            if await add_undecrypted(db, event_id, room_id, sender, source, self.clock.now()):
                log.info("room=%s event=%s could not be decrypted yet", room_id, event_id)

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
                async with self.store.transaction() as db:
                    await forget_undecrypted(db, row["event_id"])
                log.info("room=%s event=%s decrypted on retry", row["room_id"], row["event_id"])
                await self.on_timeline_event(row["room_id"], decrypted)
                continue
            age = (now - datetime.fromisoformat(row["first_seen"])).total_seconds()
            if age > UNDECRYPTABLE_GIVE_UP_S:
                async with self.store.transaction() as db:
                    await forget_undecrypted(db, row["event_id"])
                log.warning("room=%s event=%s never became decryptable; given up", row["room_id"], row["event_id"])
            elif age > UNDECRYPTABLE_GRACE_S and row["notified_at"] is None:
                await self._tell_undecryptable(row["room_id"], row["event_id"], row["sender"], source, row["first_seen"])

    async def _tell_undecryptable(self, room_id: str, event_id: str, sender: str, source: dict, first_seen: str) -> None:
        assert self.store
        now = self.clock.now()
        local = _local_time(source.get("origin_server_ts"), datetime.fromisoformat(first_seen), ZoneInfo(self.config.timezone))
        async with self.store.transaction() as db:
            info = await room_info(db, room_id)
            language = info.language if info else self.config.language
            text = self.catalog.t(language, "bot.undecryptable", user=mention(sender), sent=local)
            content = notice_content(text)
            content["m.relates_to"] = reply_relation(event_id, thread_root(source.get("content")))  # the relation is in clear text
            content["homeward.status"] = "error"
            content["homeward.undecryptable"] = event_id
            await outbox.enqueue(db, room_id, "m.room.message", content, now)
            await mark_undecrypted_notified(db, event_id, now)
        log.warning("room=%s event=%s undecryptable; sender told", room_id, event_id)
        self.sender.wake()


def _local_time(origin_server_ts: object, fallback: datetime, zone: ZoneInfo) -> str:
    """When the sender's server says the event was sent, in local time; `fallback` when that is no usable time."""
    moment = fallback
    if isinstance(origin_server_ts, (int, float)) and not isinstance(origin_server_ts, bool):
        try:
            moment = datetime.fromtimestamp(origin_server_ts / 1000, tz=timezone.utc).astimezone(zone)
        except (OverflowError, OSError, ValueError):
            pass  # e.g. a year beyond 9999: a remote server's clock is not ours to trust
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")
