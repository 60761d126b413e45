"""People and bots for integration tests, on the real local Synapse.

`Member` is a care-team member's client: a real matrix-nio client with its own device
and encryption keys, so everything the tests see went through end-to-end encryption
exactly as a user's client would. `BotRunner` runs Homeward in-process with a real
config and data folder, and can stop and start it again on the same data.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from nio import (
    Api,
    AsyncClient,
    AsyncClientConfig,
    Event,
    JoinedMembersResponse,
    LocalProtocolError,
    MegolmEvent,
    RoomCreateResponse,
    RoomSendResponse,
)

from homeward.bot.app import HomewardBot
from homeward.bot.client import HomewardClient
from homeward.clock import Clock
from homeward.config import Config
from homeward.store.db import Store

DEFAULT_TIMEOUT = 30.0
# Up to 100 events per room in a sync, not Synapse's default 10: after an outage a burst of
# answers arrives at once, and unlike Element these clients do not page back through a gap.
SYNC_FILTER = {"room": {"timeline": {"limit": 100}}}


@dataclass
class Seen:
    """An event as a member's client saw it (decrypted when it was encrypted)."""

    room_id: str
    event_id: str
    sender: str
    type: str
    content: dict[str, Any]
    encrypted: bool


@dataclass
class Member:
    user_id: str
    client: AsyncClient
    seen: list[Seen] = field(default_factory=list)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _task: asyncio.Task[None] | None = None
    _retry: asyncio.Task[None] | None = None
    _undecrypted: list[MegolmEvent] = field(default_factory=list)

    @classmethod
    async def login(cls, homeserver: str, user_id: str, password: str, store_dir: Path) -> Member:
        store_dir.mkdir(parents=True, exist_ok=True)
        # The bot's client class: handling a sync and sending take one lock (bot/client.py), so a
        # membership change synced while this member sends cannot drop the session being shared.
        client = HomewardClient(
            homeserver,
            user_id,
            store_path=str(store_dir),
            # Retry a send or sync every 2 s at most while the homeserver is away, as Element does.
            config=AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False, max_timeout_retry_wait_time=2),
        )
        response = await client.login(password, device_name="test-device")
        assert getattr(response, "access_token", None), response
        if client.should_upload_keys:
            await client.keys_upload()
        member = cls(user_id, client)
        client.add_event_callback(member._on_event, Event)
        await client.sync(timeout=0, full_state=True)
        member._task = asyncio.create_task(member._sync_forever())
        member._retry = asyncio.create_task(member._retry_undecrypted())
        return member

    async def _sync_forever(self) -> None:
        """nio's sync_forever dies on a LocalProtocolError ("No key query required") when a send
        queried keys at the same moment; a real client keeps syncing, so this one does too."""
        while True:
            try:
                await self.client.sync_forever(timeout=5_000, sync_filter=SYNC_FILTER)
            except LocalProtocolError:
                await asyncio.sleep(0.05)

    async def _retry_undecrypted(self) -> None:
        while True:
            await asyncio.sleep(0.3)
            for event in list(self._undecrypted):
                try:
                    decrypted = self.client.decrypt_event(event)
                except Exception:
                    continue
                self._undecrypted.remove(event)
                room = self.client.rooms.get(event.room_id)
                if room is not None:
                    await self._on_event(room, decrypted)

    async def _on_event(self, room: Any, event: Event) -> None:
        source = event.source if isinstance(event.source, dict) else {}
        if isinstance(event, MegolmEvent):
            # Like Element, try again when the room key arrives after the message.
            event.room_id = room.room_id
            self._undecrypted.append(event)
            seen = Seen(room.room_id, event.event_id, event.sender, "undecryptable", {}, True)
        else:
            seen = Seen(
                room.room_id,
                event.event_id,
                event.sender,
                source.get("type", ""),
                source.get("content", {}),
                bool(getattr(event, "decrypted", False)),
            )
        async with self._changed:
            self.seen.append(seen)
            self._changed.notify_all()

    async def pause(self) -> None:
        """Stop syncing until `resume`: a member who only waits costs the homeserver and this process
        nothing (each sync of each client in a busy room does). What happened meanwhile comes with the
        next sync (the last 100 events of each room, and every room key sent to this device)."""
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def resume(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._sync_forever())

    async def close(self) -> None:
        for task in (self._task, self._retry):
            if task:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        await self.client.close()

    # -- rooms -------------------------------------------------------------------------

    async def create_room(self, invite: list[str], encrypted: bool = True, direct: bool = True) -> str:
        initial_state = []
        if encrypted:
            initial_state.append(
                {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}
            )
        response = await self.client.room_create(
            invite=invite, is_direct=direct, initial_state=initial_state, preset=None
        )
        assert isinstance(response, RoomCreateResponse), response
        return response.room_id

    async def wait_for_membership(
        self, room_id: str, user_id: str, membership: str, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = await self.client.joined_members(room_id)
            if (
                membership == "join"
                and isinstance(response, JoinedMembersResponse)
                and any(m.user_id == user_id for m in response.members)
            ):
                return
            if membership != "join":
                state = await self.client.room_get_state_event(room_id, "m.room.member", user_id)
                if getattr(state, "content", {}).get("membership") == membership:
                    return
            await asyncio.sleep(0.2)
        raise AssertionError(f"{user_id} did not reach membership {membership} in {room_id}")

    async def join(self, room_id: str) -> None:
        response = await self.client.join(room_id)
        assert getattr(response, "room_id", None), response
        await self.client.sync(timeout=0)

    # -- messages ----------------------------------------------------------------------

    async def send(self, room_id: str, body: str, extra: dict[str, Any] | None = None) -> str:
        """Send a text message (encrypted in an encrypted room); return its event id."""
        content = {"msgtype": "m.text", "body": body, **(extra or {})}
        return await self.send_event(room_id, "m.room.message", content)

    async def send_unencrypted(self, room_id: str, body: str) -> str:
        """Post a clear-text message even into an encrypted room: what anyone holding this member's
        access token, but none of their device keys, can do. Its event id."""
        method, path, data = Api.room_send(
            self.client.access_token, room_id, "m.room.message", {"msgtype": "m.text", "body": body}, uuid.uuid4().hex
        )
        response = await self.client._send(RoomSendResponse, method, path, data, (room_id,))
        assert isinstance(response, RoomSendResponse), response
        return response.event_id

    async def send_event(self, room_id: str, event_type: str, content: dict[str, Any]) -> str:
        await self.know_devices(room_id)
        async with self.client.crypto_lock:
            response = await self.client.room_send(room_id, event_type, content, ignore_unverified_devices=True)
        assert isinstance(response, RoomSendResponse), response
        return response.event_id

    async def wait_for(self, predicate: Callable[[Seen], bool], timeout: float = DEFAULT_TIMEOUT) -> Seen:
        """The first event (already seen or arriving) that matches."""
        deadline = time.monotonic() + timeout
        checked = 0  # events are only added, and a predicate is about the event: each is looked at once
        async with self._changed:
            while True:
                for seen in self.seen[checked:]:
                    if predicate(seen):
                        return seen
                checked = len(self.seen)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    found = next((seen for seen in self.seen if predicate(seen)), None)
                    if found is not None:  # a predicate that also looks at something else, true by now
                        return found
                    recent = [
                        (s.room_id[-6:], s.type, s.sender.split(":")[0][-10:], reply_target(s), sorted(s.content)[:6])
                        for s in self.seen[-8:]
                    ]
                    raise AssertionError(f"{self.user_id}: no matching event within {timeout} s; last seen: {recent}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), remaining)

    async def know_devices(self, room_id: str, timeout: float = 5.0) -> None:
        """Know every joined member's devices before sending, as Element does.

        nio shares a room key only with the devices it knows at that moment; when its own
        sync loop is querying keys at the same time, `should_query_keys` is False and the
        message goes out with no key for the newcomer, who can never read it. Ask again
        until every joined member has a device (or the time is up).
        """
        deadline = time.monotonic() + timeout
        while True:
            room = self.client.rooms.get(room_id)
            joined = set(room.users) - set(room.invited_users) - {self.user_id} if room else set()
            unknown = {u for u in joined if not list(self.client.device_store.active_user_devices(u))}
            if not self.client.should_query_keys and not unknown:
                return
            self.client.olm.users_for_key_query.update(unknown)
            with contextlib.suppress(LocalProtocolError):  # the sync loop is querying right now
                await self.client.keys_query()
            if time.monotonic() > deadline:
                return
            await asyncio.sleep(0.05)

    def replies_to(self, event_id: str) -> list[Seen]:
        return [s for s in self.seen if reply_target(s) == event_id]

    async def command(self, room_id: str, body: str, timeout: float = DEFAULT_TIMEOUT) -> Seen:
        """Send a command and return the bot's answer to it."""
        event_id = await self.send(room_id, body)
        return await self.wait_for(lambda s: reply_target(s) == event_id, timeout)


def reply_target(seen: Seen) -> str | None:
    """The command an answer answers: the event it replies to, or, for an answer that does not quote
    its command (someone invited by it could not see it), its `homeward.answers`."""
    relates = seen.content.get("m.relates_to")  # a member's own malformed one too (test_bad_events.py)
    reply = relates.get("m.in_reply_to") if isinstance(relates, dict) else None
    return (reply.get("event_id") if isinstance(reply, dict) else None) or seen.content.get("homeward.answers")


def replying_to(event_id: str) -> Callable[[Seen], bool]:
    """`Member.wait_for`'s test for the answer to `event_id`."""
    return lambda seen: reply_target(seen) == event_id


class Account(Protocol):
    """The bot as its members see it: a Matrix account (a `BotRunner`, or a `BotAccount`)."""

    @property
    def user_id(self) -> str: ...


@dataclass(frozen=True)
class BotAccount:
    """The account of a bot that runs elsewhere (its own process): all a member needs to talk to it."""

    user_id: str


class BotRunner:
    """Homeward in-process, stoppable and restartable on the same data folder."""

    def __init__(self, config: Config, clock: Clock | None = None) -> None:
        self.config = config
        self.clock = clock
        self.bot: HomewardBot | None = None

    async def start(self) -> HomewardBot:
        self.bot = HomewardBot(self.config, self.clock)
        await self.bot.start()
        await asyncio.wait_for(self.bot.ready.wait(), DEFAULT_TIMEOUT)
        return self.bot

    async def stop(self) -> None:
        if self.bot:
            await self.bot.stop()
            self.bot = None

    @property
    def running(self) -> HomewardBot:
        """The bot, between `start` and `stop`."""
        assert self.bot is not None, "the bot is not running"
        return self.bot

    @property
    def store(self) -> Store:
        """The running bot's store."""
        store = self.running.store
        assert store is not None, "the bot has not opened its store"
        return store

    @property
    def user_id(self) -> str:
        return self.config.user_id


class BotProcess:
    """Homeward as its own process (`homeward run`), so tests can kill it with SIGKILL."""

    def __init__(
        self,
        config_path: Path,
        log_path: Path,
        *,
        homeward: Path | None = None,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        """`homeward`: the script to run (default: this venv's); `cwd`, `env`: the child's, when given."""
        import sys

        self.config_path = config_path
        self.log_path = log_path
        self.homeward = homeward or Path(sys.executable).with_name("homeward")
        self.cwd = cwd
        self.env = env
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child process
        self.process = await asyncio.create_subprocess_exec(
            str(self.homeward),
            "run",
            "--config",
            str(self.config_path),
            stdout=log,
            stderr=log,
            cwd=self.cwd,
            env=self.env,
        )
        log.close()

    async def kill(self) -> None:
        """SIGKILL: no clean-up of any kind runs."""
        assert self.process
        self.process.kill()
        await self.process.wait()

    async def stop(self) -> None:
        if self.process and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 15)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
