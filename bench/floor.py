"""The floor the benchmarks measure Homeward against: a bare matrix-nio echo bot.

It does the least a bot can do for a command in an encrypted room: decrypt it, answer
"pong" as a reply, encrypt the answer (nio's own sync loop, one callback, nothing else).
Its room is made from the very createRoom request Homeward makes its care rooms with
(`homeward.matrix.rooms.case_room_request`: room version, preset, encryption, history
visibility, power levels), with one guest invited by the request, as a care room's
coordinator is, and any others invited by the bot afterwards, as Homeward invites a team.
It syncs with Homeward's own sync filter (`homeward.bot.sync.SYNC_FILTER`: up to 100
timeline events per room, no presence, account data or ephemeral events): with nio's
default of 10, a burst of 50 commands between two syncs would mostly go unseen. As its own
process (`EchoProcess`) it imports nothing of Homeward — the bench hands it the filter and the
request (`HOMEWARD_ECHO_SETUP`) — and no psycopg, as a nio bot in a venv of its own: its memory
and start are nio's alone.

Used by bench/roundtrip.py and bench/burst.py, in their own process (`EchoProcess`, which
runs this file) or on the caller's event loop (`EchoBot`):

    .venv/bin/python bench/floor.py HOMESERVER USER_ID STORE GUEST [INVITEE ...]

prints `echo room <room id>` once the room exists and every invitee is invited, then
answers until SIGTERM.
"""

from __future__ import annotations

import sys

if __name__ == "__main__":
    # The floor process is a bare nio bot, as in a venv of its own: without psycopg, which peewee (nio's
    # crypto store) imports whenever it is installed — it is here, for Homeward's PostgreSQL store (23 MiB).
    sys.modules["psycopg"] = None  # type: ignore[assignment]

import asyncio
import json
import logging
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import common  # noqa: F401 - puts the checkout on sys.path
from nio import (
    AsyncClient,
    AsyncClientConfig,
    EncryptionError,
    LocalProtocolError,
    MatrixRoom,
    MegolmEvent,
    RoomCreateResponse,
    RoomInviteResponse,
    RoomKeyEvent,
    RoomMessageText,
    SyncResponse,
)
from nio.api import RoomPreset, RoomVisibility

if TYPE_CHECKING:
    from homeward.dev.synapse import LocalSynapse

PASSWORD = "bench-password"
ROOM_LINE = "echo room "
#: `GUEST` given as this: the echo bot resumes its saved session (`SESSION_FILE` in its store) instead of logging
#: in anew and making a room, and prints `ROOM_LINE` with this mark once its first sync is done (a restart).
RESUME = "-"
SESSION_FILE = "session.json"
#: What the floor process gets from the bench instead of importing Homeward (its modules would count in the
#: floor's memory and start): Homeward's sync filter, and the createRoom request of a care room.
SETUP_ENV = "HOMEWARD_ECHO_SETUP"


def echo_setup(bot_id: str, guest: str) -> dict[str, Any]:
    """Homeward's sync filter and the request Homeward creates a care room with (`guest` its coordinator)."""
    from homeward.bot.sync import SYNC_FILTER
    from homeward.ids import host_of, server_of
    from homeward.matrix.rooms import case_room_request, power_levels, server_acl

    state = {
        "m.room.name": {"name": "Echo"},
        "m.room.topic": {"topic": "floor"},
        "m.room.power_levels": power_levels(bot_id, [guest]),
        "m.room.server_acl": server_acl([host_of(server_of(bot_id))], server_of(bot_id)),
    }
    return {"sync_filter": SYNC_FILTER, "room": case_room_request(state=state, coordinator=guest)}


async def create_room(client: AsyncClient, request: dict[str, Any], extra_state: list[Any] | None = None) -> Any:
    """The room of a createRoom request as Homeward makes it (`echo_setup`'s "room"), with `extra_state` too."""
    response = await client.room_create(
        visibility=RoomVisibility.private,
        name=request["name"],
        topic=request["topic"],
        room_version=request["room_version"],
        preset=RoomPreset(request["preset"]),
        invite=request["invite"],
        initial_state=[*request["initial_state"], *(extra_state or [])],
        power_level_override=request["power_level_content_override"],
    )
    assert isinstance(response, RoomCreateResponse), response
    return response


def _setup(bot_id: str, guest: str) -> dict[str, Any]:
    given = os.environ.get(SETUP_ENV)
    return json.loads(given) if given else echo_setup(bot_id, guest)


log = logging.getLogger("echo")


class EchoBot:
    """The floor: the least a bot can do for a command in an encrypted room.

    And no less: it answers every command once, so it copes with what a busy room brings
    (as Homeward does): it sees up to 100 events per room and sync (Homeward's filter), a
    message whose room key comes a sync later is answered when the key arrives, and a send
    that meets nio's own key query in flight is sent again.
    """

    def __init__(self, homeserver: str, user_id: str, store: Path) -> None:
        store.mkdir(parents=True, exist_ok=True)
        self.client = AsyncClient(
            homeserver, user_id, store_path=str(store), config=AsyncClientConfig(encryption_enabled=True)
        )
        self.task: asyncio.Task[None] | None = None
        self.undecrypted: list[MegolmEvent] = []
        self.rooms_synced: set[str] = set()  # a room's first sync may be limited; that leaves out no command

    async def on_message(self, room: MatrixRoom, event: RoomMessageText) -> None:
        if event.sender == self.client.user_id or not event.body.startswith("!"):
            return
        content = {
            "msgtype": "m.notice",
            "body": "pong",
            "m.relates_to": {"m.in_reply_to": {"event_id": event.event_id}},
        }
        while True:
            try:
                await self.client.room_send(room.room_id, "m.room.message", content, ignore_unverified_devices=True)
                return
            except LocalProtocolError as error:  # "No key query required": nio's sync loop is querying keys right now
                log.info("event=%s sent again: %s", event.event_id, error)
                await asyncio.sleep(0.05)

    async def on_sync(self, response: SyncResponse) -> None:
        for room_id, info in response.rooms.join.items():
            if (
                info.timeline.limited and room_id in self.rooms_synced
            ):  # more than the filter's limit since the last sync
                log.warning("room=%s timeline gap: a limited sync, events left out", room_id)
            self.rooms_synced.add(room_id)

    async def on_undecrypted(self, room: MatrixRoom, event: MegolmEvent) -> None:
        log.info("event=%s from %s has no room key yet", event.event_id, event.sender)
        event.room_id = room.room_id
        self.undecrypted.append(event)

    async def on_room_key(self, _: RoomKeyEvent) -> None:
        for event in list(self.undecrypted):
            try:
                decrypted = self.client.decrypt_event(event)
            except EncryptionError:
                continue  # still no key for this one
            self.undecrypted.remove(event)
            room = self.client.rooms.get(event.room_id)
            if room is not None and isinstance(decrypted, RoomMessageText):
                log.info("event=%s decrypted when its key came", event.event_id)
                await self.on_message(room, decrypted)

    async def start(self) -> None:
        await self.client.login(PASSWORD)
        await self.client.keys_upload()
        session = {"user_id": self.client.user_id, "device_id": self.client.device_id}
        (Path(self.client.store_path) / SESSION_FILE).write_text(
            json.dumps({**session, "access_token": self.client.access_token}), encoding="utf-8"
        )
        await self._first_sync()

    async def resume(self) -> None:
        """Start again on the saved session, as a bot restarts: its device, token and Olm/Megolm store kept."""
        saved = json.loads((Path(self.client.store_path) / SESSION_FILE).read_text(encoding="utf-8"))
        self.client.restore_login(saved["user_id"], saved["device_id"], saved["access_token"])  # loads the store
        await self._first_sync()

    async def _first_sync(self) -> None:
        await self.client.sync(timeout=0, full_state=True)
        self.client.add_event_callback(self.on_message, RoomMessageText)
        self.client.add_event_callback(self.on_undecrypted, MegolmEvent)
        self.client.add_to_device_callback(self.on_room_key, RoomKeyEvent)
        self.client.add_response_callback(self.on_sync, SyncResponse)
        self.task = asyncio.create_task(self._sync_forever())

    async def _sync_forever(self) -> None:
        while True:
            try:
                await self.client.sync_forever(
                    timeout=30_000, sync_filter=_setup(self.client.user_id, "")["sync_filter"]
                )
            except LocalProtocolError as error:  # a send and nio's key query at one moment; keep syncing
                log.info("sync loop restarted: %s", error)
                await asyncio.sleep(0.05)

    async def create_room_like_a_care_room(self, guest: str, invitees: list[str] | None = None) -> str:
        """A room from the very request Homeward creates its care rooms with; then `invitees` invited one by one."""
        response = await create_room(self.client, _setup(self.client.user_id, guest)["room"])
        for user_id in invitees or []:
            invited = await self.client.room_invite(response.room_id, user_id)
            assert isinstance(invited, RoomInviteResponse), invited
        return response.room_id

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        await self.client.close()


async def run_echo_bot(homeserver: str, user_id: str, store: Path, guest: str, invitees: list[str]) -> None:
    """The floor as a process of its own; prints its room's id, then answers until SIGTERM."""
    echo = EchoBot(homeserver, user_id, store)
    if guest == RESUME:
        await echo.resume()
        print(ROOM_LINE + RESUME, flush=True)
    else:
        await echo.start()
        print(ROOM_LINE + await echo.create_room_like_a_care_room(guest, invitees), flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await echo.stop()


class EchoProcess:
    """The echo bot as its own process (this file), as a bot runs in production."""

    def __init__(
        self,
        server: LocalSynapse,
        user_id: str,
        store: Path,
        guest: str,
        invitees: list[str] | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.args = [server.url, user_id, str(store), guest, *(invitees or [])]
        # Worked out here, with Homeward's own code, so that the floor process imports none of it.
        self.env = {**os.environ, SETUP_ENV: json.dumps(echo_setup(user_id, guest if guest != RESUME else user_id))}
        self.log_path = log_path  # its log (stderr); none by default
        self.process: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int:
        assert self.process
        return self.process.pid

    async def start(self, timeout: float = 60.0) -> str:
        """Start the bot; its room's id once the room exists and everyone is invited."""
        log_file = open(self.log_path, "ab") if self.log_path else None  # noqa: SIM115 - handed to the child process
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            *self.args,
            stdout=asyncio.subprocess.PIPE,
            stderr=log_file or asyncio.subprocess.DEVNULL,
            env=self.env,
        )
        if log_file:
            log_file.close()
        assert self.process.stdout
        while True:
            line = (await asyncio.wait_for(self.process.stdout.readline(), timeout)).decode()
            if not line:
                raise RuntimeError("the echo bot stopped before creating its room")
            if line.startswith(ROOM_LINE):
                return line[len(ROOM_LINE) :].strip()

    async def stop(self) -> None:
        if self.process and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()


if __name__ == "__main__":
    if len(sys.argv) < 5 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0 if sys.argv[1:2] in (["-h"], ["--help"]) else 2)
    homeserver, user_id, store, guest, *invitees = sys.argv[1:]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("nio").setLevel(logging.ERROR)  # nio warns of every message whose room key comes a moment later
    asyncio.run(run_echo_bot(homeserver, user_id, Path(store), guest, invitees))
