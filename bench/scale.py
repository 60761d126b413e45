"""One Homeward bot with 1,000 care rooms: start-up time, memory, and `!status` at that scale.

    .venv/bin/python bench/scale.py [--rooms 1000] [--runs 20] [--restarts 3] [--rebuild]

Build (once; cached in .bench-cache/scale-<rooms>/, `--rebuild` to start over): a local
Synapse (rate limits raised, as homeward.dev.synapse.LocalSynapse does) and `homeward run` as
its own process. A coordinator with an encrypted nio client opens every case with a real
`!case new <pathway> <label>` in its direct chat with the bot (Örebro and Telemark
alternately, `--concurrency` commands in flight), so each care room is created by the bot's
own code path: handler, outbox, createRoom, welcome, pinned checklist. The coordinator joins
each room and `!invite`s one of 20 staff members (each an encrypted device) with a lane, who
joins too: every room has three members (bot, coordinator, staff). A probe user is invited
into the first room. The build ends when the bot's outbox is empty; the bot is stopped. It
takes about 18 minutes for 1,000 rooms on the project's 2-core machine (about 1 s a room).

Measure (each of `--restarts` times, Synapse started from the cached data once): the probe
logs in (a new device), `homeward run` is started as a new process, and at once the probe
sends `!ping` into its care room. Ready = from the spawn of the process to the probe
receiving the answer (the bot resumes from its sync token and handles the command in its
first sync). Memory from /proc/<pid>/status: VmRSS when ready and after the `!status`
runs, VmHWM (peak); the bot's CPU time when ready (/proc/<pid>/stat), which tells the bot's
own work from the wait for the homeserver's first sync. Then `!status` in that room, `--runs`
times one after another (3 warm-ups first): p50 and p95 of the round trip at the probe, and
`!ping` the same way. The bot's log gives the breakdown of the start (session restored,
loops started, command handled). `--py-spy FILE` runs the first start under py-spy.

Targets (issue): ready in under 15 s, resident memory under 400 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import common
from common import cpu_seconds, header, memory_kb, outbox_drained, percentile, table, write_bot_config
from nio import AsyncClientConfig, Event, JoinResponse, MegolmEvent, RoomSendResponse

from homeward.bot.client import HomewardClient
from homeward.dev.synapse import LocalSynapse
from tests.harness import BotProcess, Member, Seen, cross_sign, reply_target

PASSWORD = "bench-password"
STAFF = 20
PATHWAYS = ("orebro", "sthf")
CARE_LANES = {"orebro": ("kommun", "oppenvard", "slutenvard"), "sthf": ("kommunen", "sykehus")}
ANSWER_TIMEOUT = 180.0


# -- the coordinator's client: answers found by index (thousands of events) -----------------


@dataclass
class Driver:
    """An encrypted nio client that finds the bot's answer to a command by the event it replies to.

    tests.harness.Member keeps every event in a list and scans it; with thousands of rooms that
    is quadratic. Sends and sync handling share one lock, as the bot's own client does.
    """

    user_id: str
    client: HomewardClient
    replies: dict[str, asyncio.Future[Seen]] = field(default_factory=dict)
    undecrypted: list[MegolmEvent] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    async def login(cls, homeserver: str, user_id: str, store: Path) -> Driver:
        store.mkdir(parents=True, exist_ok=True)
        client = HomewardClient(
            homeserver,
            user_id,
            store_path=str(store),
            config=AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False),
        )
        response = await client.login(PASSWORD, device_name="bench")
        assert getattr(response, "access_token", None), response
        if client.should_upload_keys:
            await client.keys_upload()
        await cross_sign(client, PASSWORD)  # as Element at a first login: the bot trusts signed devices only
        driver = cls(user_id, client)
        client.add_event_callback(driver._on_event, Event)
        await client.sync(timeout=0, full_state=True)
        driver.tasks = [asyncio.create_task(driver._sync_forever()), asyncio.create_task(driver._retry())]
        return driver

    async def _sync_forever(self) -> None:
        while True:
            try:
                await self.client.sync_forever(timeout=5_000)
            except Exception:
                await asyncio.sleep(0.1)

    async def _retry(self) -> None:
        while True:
            await asyncio.sleep(0.3)
            for event in list(self.undecrypted):
                try:
                    decrypted = self.client.decrypt_event(event)
                except Exception:
                    continue
                self.undecrypted.remove(event)
                await self._on_event(self.client.rooms.get(event.room_id), decrypted)

    def _future(self, event_id: str) -> asyncio.Future[Seen]:
        if event_id not in self.replies:
            self.replies[event_id] = asyncio.get_running_loop().create_future()
        return self.replies[event_id]

    async def _on_event(self, room: Any, event: Event) -> None:
        if isinstance(event, MegolmEvent):
            event.room_id = room.room_id
            self.undecrypted.append(event)
            return
        source = event.source if isinstance(event.source, dict) else {}
        seen = Seen(room.room_id, event.event_id, event.sender, source.get("type", ""), source.get("content", {}), True)
        target = reply_target(seen)
        if target and event.sender != self.user_id:
            future = self._future(target)
            if not future.done():
                future.set_result(seen)

    async def send(self, room_id: str, body: str) -> str:
        async with self.client.crypto_lock:
            if self.client.should_query_keys:
                with contextlib.suppress(Exception):
                    await self.client.keys_query()
            response = await self.client.room_send(
                room_id, "m.room.message", {"msgtype": "m.text", "body": body}, ignore_unverified_devices=True
            )
        assert isinstance(response, RoomSendResponse), response
        return response.event_id

    async def ask(self, room_id: str, body: str) -> Seen:
        """Send a command; the bot's answer, which must be ok."""
        event_id = await self.send(room_id, body)
        answer = await asyncio.wait_for(self._future(event_id), ANSWER_TIMEOUT)
        if answer.content.get("homeward.status") != "ok":
            raise RuntimeError(f"{body.split()[0]} refused: {answer.content.get('homeward.reason')}")
        return answer

    async def wait_room(self, room_id: str, timeout: float = 60.0) -> None:
        """Until the client's sync knows the room as encrypted (so a send is encrypted)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            room = self.client.rooms.get(room_id)
            if room is not None and room.encrypted:
                return
            await asyncio.sleep(0.1)
        raise TimeoutError(f"{self.user_id} never saw {room_id} as an encrypted room")

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.client.close()


async def plain_login(homeserver: str, user_id: str, store: Path) -> HomewardClient:
    """A device with keys on the server that never syncs: a staff member who is not online."""
    store.mkdir(parents=True, exist_ok=True)
    client = HomewardClient(
        homeserver, user_id, store_path=str(store), config=AsyncClientConfig(encryption_enabled=True)
    )
    response = await client.login(PASSWORD, device_name="bench")
    assert getattr(response, "access_token", None), response
    await client.keys_upload()
    await cross_sign(client, PASSWORD)
    return client


async def join(client: HomewardClient, room_id: str, timeout: float = 120.0) -> None:
    """Join once the invite is there (the bot's outbox sends it a moment after its answer)."""
    deadline = time.monotonic() + timeout
    while True:
        response = await client.join(room_id)
        if isinstance(response, JoinResponse):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{client.user_id} could not join {room_id}: {response}")
        await asyncio.sleep(0.25)


# -- build -------------------------------------------------------------------------------------


async def build(base: Path, rooms: int, concurrency: int) -> dict[str, Any]:
    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True)
    phases: dict[str, float] = {}
    started = time.perf_counter()
    server = LocalSynapse(base / "synapse")
    await server.start()
    bot: BotProcess | None = None
    clients: list[Any] = []
    try:
        bot_id = await server.register("homeward", PASSWORD)
        coordinator_id = await server.register("coordinator", PASSWORD)
        probe_id = await server.register("probe", PASSWORD)
        staff_ids = [await server.register(f"staff-{n:02d}", PASSWORD) for n in range(STAFF)]
        config = base / "homeward.toml"
        write_bot_config(
            config,
            homeserver=server.url,
            user_id=bot_id,
            password=PASSWORD,
            data_dir=base / "bot",
            server_name=server.server_name,
        )
        bot = BotProcess(config, base / "bot-build.log")
        await bot.start()
        coordinator = await Driver.login(server.url, coordinator_id, base / "clients" / "coordinator")
        clients.append(coordinator)
        staff = [await plain_login(server.url, user, base / "clients" / user[1:].split(":")[0]) for user in staff_ids]
        clients += staff
        direct = (
            await coordinator.client.room_create(
                invite=[bot_id],
                is_direct=True,
                preset=None,
                initial_state=[
                    {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}
                ],
            )
        ).room_id
        await join_seen(coordinator, direct, bot_id)
        phases["synapse, users, bot, direct chat"] = time.perf_counter() - started

        room_ids: list[str | None] = [None] * rooms
        queue: asyncio.Queue[int] = asyncio.Queue()
        for n in range(rooms):
            queue.put_nowait(n)
        done = 0
        t_cases = time.perf_counter()

        async def open_cases() -> None:
            nonlocal done
            while not queue.empty():
                n = queue.get_nowait()
                pathway = PATHWAYS[n % len(PATHWAYS)]
                answer = await coordinator.ask(direct, f"!case new {pathway} Bench-{n:04d}")
                room = answer.content["homeward.room_id"]
                await join(coordinator.client, room)
                await coordinator.wait_room(room)
                lanes = CARE_LANES[pathway]
                person = staff[n % len(staff)]
                await coordinator.ask(room, f"!invite {person.user_id} {lanes[n % len(lanes)]}")
                await join(person, room)
                room_ids[n] = room
                done += 1
                if done % 50 == 0:
                    elapsed = time.perf_counter() - t_cases
                    print(f"  {done} rooms in {elapsed:.0f} s ({elapsed / done:.2f} s per room)", flush=True)

        await asyncio.gather(*(open_cases() for _ in range(concurrency)))
        phases[f"{rooms} cases: !case new, join, !invite, join"] = time.perf_counter() - t_cases

        t_probe = time.perf_counter()
        probe_room = room_ids[0]
        assert probe_room
        await coordinator.ask(probe_room, f"!invite {probe_id} kommun")
        probe = await plain_login(server.url, probe_id, base / "clients" / "probe")
        await join(probe, probe_room)
        await probe.logout()  # every measurement logs the probe in as a new device
        await probe.close()
        counts = await outbox_drained(base / "bot" / "homeward.sqlite3")
        phases["probe, outbox drained"] = time.perf_counter() - t_probe
    finally:
        for client in clients:
            await client.close()
        if bot:
            await bot.stop()
        await server.stop()
    fixture = {
        "rooms": rooms,
        "room_ids": room_ids,
        "probe_room": probe_room,
        "bot_id": bot_id,
        "probe_id": probe_id,
        "built_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "build_seconds": round(time.perf_counter() - started, 1),
        "phases": {k: round(v, 1) for k, v in phases.items()},
        "store": counts,
        "concurrency": concurrency,
    }
    (base / "fixture.json").write_text(json.dumps(fixture, indent=1), encoding="utf-8")
    return fixture


async def join_seen(driver: Driver, room_id: str, user_id: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = await driver.client.joined_members(room_id)
        if any(m.user_id == user_id for m in getattr(response, "members", [])):
            return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"{user_id} did not join {room_id}")


# -- measure -----------------------------------------------------------------------------------


class ProfiledBot:
    """`homeward run` under py-spy (sampling, raw collapsed stacks), for `--py-spy`: the bot is py-spy's child."""

    def __init__(self, config: Path, log: Path, out: Path) -> None:
        self.config, self.log, self.out = config, log, out
        self.spy: asyncio.subprocess.Process | None = None
        self.pid = 0

    async def start(self) -> None:
        bindir = Path(sys.executable).parent
        with open(self.log, "ab") as log:
            self.spy = await asyncio.create_subprocess_exec(
                str(bindir / "py-spy"),
                "record",
                "--rate",
                "200",
                "--format",
                "raw",
                "--output",
                str(self.out),
                "--",
                str(bindir / "homeward"),
                "run",
                "--config",
                str(self.config),
                stdout=log,
                stderr=log,
            )
        children = Path(f"/proc/{self.spy.pid}/task/{self.spy.pid}/children")
        while not self.pid:
            found = children.read_text().split()
            self.pid = int(found[0]) if found else 0
            await asyncio.sleep(0.005)

    async def stop(self) -> None:
        os.kill(self.pid, signal.SIGTERM)
        assert self.spy
        await self.spy.wait()  # py-spy writes its file when the bot has exited


LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")
MILESTONES = (
    ("session restored (interpreter, imports, pathways, store, crypto store loaded)", "restored device"),
    ("loops started (reminders planned)", "started as device"),
    ("`!ping` handled (first sync done)", "command=ping"),
)


def milestones(log: Path, offset: int, wall0: float) -> dict[str, float]:
    """Seconds from the spawn to the first log line of each milestone, from the bot's own log."""
    found: dict[str, float] = {}
    with log.open("rb") as handle:
        handle.seek(offset)
        lines = handle.read().decode("utf-8", "replace").splitlines()
    for line in lines:
        match = LOG_LINE.match(line)
        if not match:
            continue
        at = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp() - wall0
        for name, needle in MILESTONES:
            if needle in line and name not in found:
                found[name] = at
    return found


async def measure(
    base: Path, fixture: dict[str, Any], server: LocalSynapse, runs: int, n: int, profile: Path | None = None
) -> dict[str, Any]:
    config = base / "homeward.toml"
    log = base / "bot-measure.log"
    log.touch()
    offset = log.stat().st_size
    room = fixture["probe_room"]
    with tempfile.TemporaryDirectory(prefix="homeward-probe-") as tmp:
        probe = await Member.login(server.url, fixture["probe_id"], PASSWORD, Path(tmp))
        try:
            bot: Any = ProfiledBot(config, log, profile) if profile else BotProcess(config, log)
            peak_rss = 0
            wall0 = time.time()
            t0 = time.perf_counter()
            await bot.start()
            pid = bot.pid if profile else bot.process.pid

            async def sample() -> None:
                nonlocal peak_rss
                while True:
                    try:
                        peak_rss = max(peak_rss, memory_kb(pid).get("VmRSS", 0))
                    except (FileNotFoundError, ProcessLookupError):
                        return
                    await asyncio.sleep(0.05)

            sampler = asyncio.create_task(sample())
            try:
                event_id = await probe.send(room, "!ping")
                await probe.wait_for(lambda s: reply_target(s) == event_id, timeout=300)
                ready = time.perf_counter() - t0
                at_ready = memory_kb(pid)
                cpu_ready = cpu_seconds(pid)
                stages = milestones(log, offset, wall0)

                async def round_trip(body: str) -> float:
                    start = time.perf_counter()
                    sent = await probe.send(room, body)
                    answer = await probe.wait_for(lambda s: reply_target(s) == sent, timeout=60)
                    assert answer.content.get("homeward.status") == "ok", answer.content.get("body")
                    return (time.perf_counter() - start) * 1000

                for _ in range(3):
                    await round_trip("!status")
                status = [await round_trip("!status") for _ in range(runs)]
                ping = [await round_trip("!ping") for _ in range(runs)]
                after = memory_kb(pid)
            finally:
                sampler.cancel()
                await bot.stop()
        finally:
            await probe.client.logout()
            await probe.close()
    return {
        "restart": n,
        "ready_s": ready,
        "cpu_ready_s": cpu_ready,
        "stages": stages,
        "rss_ready_mb": at_ready["VmRSS"] / 1024,
        "rss_after_mb": after["VmRSS"] / 1024,
        "hwm_mb": max(after["VmHWM"], peak_rss) / 1024,
        "status": status,
        "ping": ping,
    }


async def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.ERROR)  # nio warns of every message whose room key comes a moment later
    base = (args.cache / f"scale-{args.rooms}").resolve()
    fixture_file = base / "fixture.json"
    if args.rebuild or not fixture_file.exists():
        print(f"building the fixture in {base} ({args.rooms} care rooms; takes a while) ...", flush=True)
        fixture = await build(base, args.rooms, args.concurrency)
    else:
        fixture = json.loads(fixture_file.read_text(encoding="utf-8"))
    server = LocalSynapse(base / "synapse")
    t0 = time.perf_counter()
    await server.start()
    synapse_s = time.perf_counter() - t0
    try:
        results = [
            await measure(base, fixture, server, args.runs, n + 1, args.py_spy if n == 0 else None)
            for n in range(args.restarts)
        ]
    finally:
        await server.stop()

    header(
        "Homeward at scale: one bot, many care rooms (bench/scale.py)",
        f"{args.restarts} restart(s) of the bot on one Synapse; {args.runs} `!status` and `!ping` round trips each "
        "(after 3 warm-ups), one probe client",
    )
    counts = fixture["store"]
    print(
        f"fixture: {fixture['rooms']} care rooms ({counts['cases']} cases bound to rooms, "
        f"{counts['members']} case members, "
        f"{counts['outbox_sent']} events sent, {counts['outbox_abandoned']} abandoned, {counts['audit']} audit rows); "
        f"3 Matrix members per room (bot, coordinator, staff) + the probe in one"
    )
    print(
        f"built {fixture['built_at']} in {fixture['build_seconds']:.0f} s, {fixture['concurrency']} commands in flight:"
    )
    for name, seconds in fixture["phases"].items():
        print(f"  {name}: {seconds:.0f} s")
    print(f"Synapse start (cached data): {synapse_s:.1f} s")
    print()
    rows = []
    for r in results:
        rows.append(
            (
                f"restart {r['restart']}",
                f"{r['ready_s']:.1f}",
                f"{r['rss_ready_mb']:.0f}",
                f"{r['rss_after_mb']:.0f}",
                f"{r['hwm_mb']:.0f}",
                f"{percentile(r['status'], 50):.0f}",
                f"{percentile(r['status'], 95):.0f}",
                f"{percentile(r['ping'], 50):.0f}",
            )
        )
    table(
        rows,
        (
            "bot start",
            "ready s (spawn → answer)",
            "RSS ready MB",
            "RSS after MB",
            "peak RSS MB",
            "!status p50 ms",
            "!status p95 ms",
            "!ping p50 ms",
        ),
    )
    print()
    if args.py_spy:
        print(f"restart 1 ran under py-spy (profile in {args.py_spy}); its times include the sampling")
    for r in results:
        print(f"restart {r['restart']} start-up breakdown (from the bot's log, seconds after the spawn):")
        for name, at in r["stages"].items():
            print(f"  {at:6.2f}  {name}")
        print(
            f"  {r['ready_s']:6.2f}  answer received by the probe; "
            f"the bot had used {r['cpu_ready_s']:.2f} s of CPU by then"
        )
    worst_ready = max(r["ready_s"] for r in results)
    worst_hwm = max(r["hwm_mb"] for r in results)
    print()
    print(
        f"targets: ready < 15 s: {'met' if worst_ready < 15 else 'MISSED'} (worst {worst_ready:.1f} s); "
        f"memory < 400 MB: {'met' if worst_hwm < 400 else 'MISSED'} (peak {worst_hwm:.0f} MB)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rooms", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=20, help="`!status` (and `!ping`) round trips per restart")
    parser.add_argument("--restarts", type=int, default=3, help="bot starts measured, on one Synapse start")
    parser.add_argument("--concurrency", type=int, default=8, help="commands in flight while building")
    parser.add_argument("--cache", type=Path, default=common.ROOT / ".bench-cache")
    parser.add_argument("--rebuild", action="store_true", help="build the fixture again even if it is cached")
    parser.add_argument(
        "--py-spy",
        type=Path,
        metavar="FILE",
        help="run the first restart under py-spy (raw collapsed stacks to FILE; "
        "`.venv/bin/pip install py-spy` first); its figures are slower",
    )
    asyncio.run(main(parser.parse_args()))
