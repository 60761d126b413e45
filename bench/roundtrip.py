"""Command round trip against the homeserver's own floor.

In one run, on one local Synapse, a bare matrix-nio echo bot (the floor: decrypt, reply,
encrypt, nothing else) and Homeward answer the same client in encrypted rooms. Prints p50
and p95 of both and Homeward's ratio to the floor for `!ping`, `!status` on a case with
every item, and `!ack`.

    .venv/bin/python bench/roundtrip.py [--runs 30]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nio import AsyncClient, AsyncClientConfig, InviteMemberEvent, MatrixRoom, RoomMessageText  # noqa: E402

from homeward.config import Config  # noqa: E402
from homeward.devserver import LocalSynapse  # noqa: E402
from tests.harness import BotRunner, Member, reply_target  # noqa: E402

PASSWORD = "bench-password"


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
        self.client.add_event_callback(self.on_invite, InviteMemberEvent)
        self.task = asyncio.create_task(self.client.sync_forever(timeout=30_000))

    async def on_invite(self, room: MatrixRoom, event: InviteMemberEvent) -> None:
        await self.client.join(room.room_id)


async def measure(member: Member, room: str, body: str, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        event_id = await member.send(room, body)
        await member.wait_for(lambda s: reply_target(s) == event_id, timeout=30)
        times.append((time.perf_counter() - start) * 1000)
    return times


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def main(runs: int) -> None:
    base = Path(tempfile.mkdtemp(prefix="homeward-bench-"))
    server = LocalSynapse(base / "synapse")
    await server.start()
    try:
        echo_id = await server.register("echo", PASSWORD)
        bot_id = await server.register("homeward", PASSWORD)
        client_id = await server.register("nurse", PASSWORD)
        echo = EchoBot(server.url, echo_id, base / "echo")
        await echo.start()
        bot = BotRunner(Config.model_validate({
            "homeserver": server.url, "user_id": bot_id, "password": PASSWORD, "data_dir": base / "bot",
            "allowed_inviters": ["*:localhost"], "language": "en",
        }))
        await bot.start()
        nurse = await Member.login(server.url, client_id, PASSWORD, base / "nurse")

        echo_room = await nurse.create_room(invite=[echo_id])
        await nurse.wait_for_membership(echo_room, echo_id, "join")
        dm = await nurse.create_room(invite=[bot_id])
        await nurse.wait_for_membership(dm, bot_id, "join")
        answer = await nurse.command(dm, "!case new sthf Bench")
        case_room = answer.content["homeward.room_id"]
        await nurse.join(case_room)
        await nurse.wait_for(lambda s: s.room_id == case_room and "homeward.checklist" in s.content)
        await nurse.command(case_room, f"!role {client_id} sykehus coordinator")
        for _ in range(3):  # warm up both paths (sessions shared, keys claimed)
            await measure(nurse, echo_room, "!ping", 1)
            await measure(nurse, case_room, "!ping", 1)

        floor = await measure(nurse, echo_room, "!ping", runs)
        results = {
            "!ping": await measure(nurse, case_room, "!ping", runs),
            "!status": await measure(nurse, case_room, "!status", runs),
        }
        acks = []
        tasks = ["behandlingsteam", "kartlegge-bistandsbehov", "samtykke-dokumentasjon", "tentativ-ut-dato"]
        for task in tasks * (runs // len(tasks) + 1):
            if len(acks) >= runs:
                break
            acks += await measure(nurse, case_room, f"!ack {task}", 1)  # first one succeeds, the rest answer "already done"
        results["!ack"] = acks

        print("Homeward command round trip against the floor (bench/roundtrip.py)")
        print(f"date:    {datetime.now(timezone.utc).isoformat(timespec='seconds')}")
        print(f"machine: nproc {os.cpu_count()}, {platform.machine()}, Python {platform.python_version()}")
        print(f"runs:    {runs} per command, one client, encrypted rooms, one local Synapse, one run")
        print(f"floor (bare nio echo bot, !ping): p50 {p(floor, .5):7.1f} ms  p95 {p(floor, .95):7.1f} ms")
        for name, values in results.items():
            print(f"Homeward {name:8}: p50 {p(values, .5):7.1f} ms  p95 {p(values, .95):7.1f} ms   "
                  f"ratio to floor p50 {p(values, .5) / p(floor, .5):.2f}  p95 {p(values, .95) / p(floor, .95):.2f}")
        print(f"(mean floor {statistics.mean(floor):.1f} ms)")
        await nurse.close()
        await bot.stop()
        if echo.task:
            echo.task.cancel()
        await echo.client.close()
    finally:
        await server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    asyncio.run(main(parser.parse_args().runs))
