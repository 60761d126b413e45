"""The floor the benchmarks measure Homeward against: a bare matrix-nio echo bot.

It does the least a bot can do for a command in an encrypted room: decrypt it, answer
"pong" as a reply, encrypt the answer (nio's own sync loop, one callback, nothing else).
Its room is made from the very createRoom request Homeward makes its care rooms with
(`homeward.bot.rooms.case_room_request`: room version, preset, encryption, history
visibility, power levels), with one guest invited by the request, as a care room's
coordinator is, and any others invited by the bot afterwards, as Homeward invites a team.

Used by bench/roundtrip.py and bench/burst.py, in their own process (`EchoProcess`, which
runs this file) or on the caller's event loop (`EchoBot`):

    .venv/bin/python bench/floor.py HOMESERVER USER_ID STORE GUEST [INVITEE ...]

prints `echo room <room id>` once the room exists and every invitee is invited, then
answers until SIGTERM.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import common  # noqa: F401 - puts the checkout on sys.path

from nio import AsyncClient, AsyncClientConfig, MatrixRoom, RoomCreateResponse, RoomInviteResponse, RoomMessageText  # noqa: E402
from nio.api import RoomPreset, RoomVisibility  # noqa: E402

from homeward.bot.rooms import case_room_request  # noqa: E402
from homeward.devserver import LocalSynapse  # noqa: E402

PASSWORD = "bench-password"
ROOM_LINE = "echo room "


class EchoBot:
    """The floor: the least a bot can do for a command in an encrypted room."""

    def __init__(self, homeserver: str, user_id: str, store: Path) -> None:
        store.mkdir(parents=True, exist_ok=True)
        self.client = AsyncClient(homeserver, user_id, store_path=str(store), config=AsyncClientConfig(encryption_enabled=True))
        self.task: asyncio.Task[None] | None = None

    async def on_message(self, room: MatrixRoom, event: RoomMessageText) -> None:
        if event.sender == self.client.user_id or not event.body.startswith("!"):
            return
        content = {"msgtype": "m.notice", "body": "pong", "m.relates_to": {"m.in_reply_to": {"event_id": event.event_id}}}
        await self.client.room_send(room.room_id, "m.room.message", content, ignore_unverified_devices=True)

    async def start(self) -> None:
        await self.client.login(PASSWORD)
        await self.client.keys_upload()
        await self.client.sync(timeout=0, full_state=True)
        self.client.add_event_callback(self.on_message, RoomMessageText)
        self.task = asyncio.create_task(self.client.sync_forever(timeout=30_000))

    async def create_room_like_a_care_room(self, guest: str, invitees: list[str] | None = None) -> str:
        """A room from the very request Homeward creates its care rooms with; then `invitees` invited one by one."""
        request = case_room_request(name="Echo", topic="floor", bot_id=self.client.user_id, coordinator=guest)
        response = await self.client.room_create(
            visibility=RoomVisibility.private, name=request["name"], topic=request["topic"],
            room_version=request["room_version"], preset=RoomPreset(request["preset"]), invite=request["invite"],
            initial_state=request["initial_state"], power_level_override=request["power_level_content_override"],
        )
        assert isinstance(response, RoomCreateResponse), response
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
    await echo.start()
    print(ROOM_LINE + await echo.create_room_like_a_care_room(guest, invitees), flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await echo.stop()


class EchoProcess:
    """The echo bot as its own process (this file), as a bot runs in production."""

    def __init__(self, server: LocalSynapse, user_id: str, store: Path, guest: str, invitees: list[str] | None = None) -> None:
        self.args = [server.url, user_id, str(store), guest, *(invitees or [])]
        self.process: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int:
        assert self.process
        return self.process.pid

    async def start(self, timeout: float = 60.0) -> str:
        """Start the bot; its room's id once the room exists and everyone is invited."""
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, __file__, *self.args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
        )
        assert self.process.stdout
        while True:
            line = (await asyncio.wait_for(self.process.stdout.readline(), timeout)).decode()
            if not line:
                raise RuntimeError("the echo bot stopped before creating its room")
            if line.startswith(ROOM_LINE):
                return line[len(ROOM_LINE):].strip()

    async def stop(self) -> None:
        if self.process and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()


if __name__ == "__main__":
    if len(sys.argv) < 5 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0 if sys.argv[1:2] in (["-h"], ["--help"]) else 2)
    homeserver, user_id, store, guest, *invitees = sys.argv[1:]
    asyncio.run(run_echo_bot(homeserver, user_id, Path(store), guest, invitees))
