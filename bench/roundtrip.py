"""Command round trip against the homeserver's own floor.

In one run, on one local Synapse, a bare matrix-nio echo bot (the floor: decrypt, reply,
encrypt, nothing else) and Homeward answer the same client. Prints p50 and p95 of both
and Homeward's ratio to the floor for `!ping`, `!status` on a case with every item, and
`!ack` (each one a real acknowledgement of an open task, not "already done").

Fair by construction:
- both rooms are made from the same createRoom request (`homeward.matrix.rooms.case_room_request`:
  room version, preset, encryption, history visibility, power levels), created by the
  bot and joined by the same one client, so each has the same two members;
- floor and Homeward samples are interleaved, one of each in turn (which goes first
  alternates), so noise on the shared machine hits both sides alike;
- samples are `--pause` apart (0.2 s: a person reads an answer before typing the next
  command), so what a bot does after its answer (Homeward edits the checklist after
  `!ack`) is not counted against the next command, of either bot;
- each bot runs in a process of its own (`homeward run`, and bench/floor.py, where the
  echo bot lives), as in production, where the users' clients are elsewhere. With
  `--in-process` both bots share this process's event loop with the client instead:
  then the client's own work (decrypting its message, nio's store) runs between the
  awaits of a bot, which penalises a bot that awaits its database (Homeward) more than
  one that answers in a single callback (the floor).

    .venv/bin/python bench/roundtrip.py [--runs 40] [--pause 0.2] [--in-process]
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
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from floor import PASSWORD, RESUME, EchoBot, EchoProcess, create_room, echo_setup

from homeward.care.pathway import default_pathways_dir, load_pathways
from homeward.config import Config
from homeward.dev.synapse import LocalSynapse
from tests.harness import BotProcess, BotRunner, Member, Seen, reply_target

PATHWAY = "sthf"


async def timed(member: Member, room: str, body: str) -> tuple[float, Seen]:
    """Milliseconds from sending `body` until the client has decrypted the answer; and the answer."""
    start = time.perf_counter()
    event_id = await member.send(room, body)
    answer = await member.wait_for(lambda s: reply_target(s) == event_id, timeout=30)
    return (time.perf_counter() - start) * 1000, answer


def answer_to(event_id: str) -> Callable[[Seen], bool]:
    """Whether a seen event is the answer to `event_id`."""
    return lambda seen: reply_target(seen) == event_id


def cpu_ms(pid: int) -> float:
    """CPU time of every thread of a process so far, in ms (nanoseconds from /proc/<pid>/task/*/schedstat)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
    return total / 1e6


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


CASE_NEW_MS: list[float] = []  # `!case new`: from the send to its answer (the room made, the answer sent)


async def open_case(nurse: Member, dm: str, label: str) -> str:
    started = time.perf_counter()
    answer = await nurse.command(dm, f"!case new {PATHWAY} {label}")
    CASE_NEW_MS.append((time.perf_counter() - started) * 1000)
    if "homeward.undecryptable" in answer.content:  # the room key of a new room's first message came late: again
        answer = await nurse.command(dm, f"!case new {PATHWAY} {label}")
    assert "homeward.room_id" in answer.content, sorted(answer.content)
    room = answer.content["homeward.room_id"]
    await nurse.join(room)
    await nurse.wait_for(lambda s: s.room_id == room and "homeward.checklist" in s.content)
    await nurse.command(room, f"!role {nurse.user_id} sykehus coordinator")
    return room


def byte_compile_checkout() -> int:
    """Write the bytecode of Homeward's own modules (the folders pyproject's package-dir maps), as `pip install`
    does when it installs the package; the number of files written.

    Both bots start from bytecode then, as deployed: the floor's code is mostly matrix-nio, byte-compiled in
    site-packages when it was installed, while this checkout is an editable install whose modules are compiled
    from source at every start when PYTHONDONTWRITEBYTECODE is set (0.3-0.4 s of Homeward's start here)."""
    import compileall
    import tomllib

    root = Path(__file__).resolve().parent.parent
    folders = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-dir"]
    written = 0
    for folder in sorted(set(folders.values())):
        for source in (root / folder).glob("*.py"):
            written += bool(compileall.compile_file(source, quiet=2))
    return written


async def create_room_floor(nurse: Member, guest: str, times: int) -> list[float]:
    """Synapse's own createRoom time for the request `!case new` makes (`case_room_request`, as the sender sends it,
    with a case key), made `times` times by the nurse's client with `guest` invited: what a `!case new`
    answer that names its room waits for at least, before its own round trip. Milliseconds each."""
    request = echo_setup(nurse.client.user_id, guest)["room"]
    took = []
    for n in range(times):
        await asyncio.sleep(0.2)
        started = time.perf_counter()
        case_key = {"type": "org.homeward.case", "state_key": "", "content": {"key": f"bench-{n}"}}  # CASE_KEY_STATE
        await create_room(nurse.client, request, [case_key])
        took.append((time.perf_counter() - started) * 1000)
    return took


async def start_homeward(server: LocalSynapse, bot_id: str, base: Path, in_process: bool) -> BotRunner | BotProcess:
    settings = {
        "homeserver": server.url,
        "user_id": bot_id,
        "password": PASSWORD,
        "data_dir": str(base / "bot"),
        "allowed_inviters": [f"*:{server.server_name}"],
        "case_openers": [f"*:{server.server_name}"],
        "rate_limits": {"case new": "off", "*": "off"},
        "language": "en",
    }
    if in_process:
        runner = BotRunner(Config.model_validate(settings))
        await runner.start()
        return runner
    config = base / "homeward.toml"
    config.write_text(
        "".join(f"{key} = {_toml(value)}\n" for key, value in settings.items()) + 'log_level = "WARNING"\n',
        encoding="utf-8",
    )
    bot = BotProcess(config, base / "homeward.log")
    await bot.start()
    return bot


def _toml(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


async def main(
    runs: int,
    in_process: bool = False,
    pause: float = 0.2,
    on_sample: Callable[[str, float], Awaitable[None]] | None = None,
    starts: int = 3,
) -> None:
    compiled = byte_compile_checkout()
    base = Path(tempfile.mkdtemp(prefix="homeward-bench-"))
    server = LocalSynapse(base / "synapse")
    await server.start()
    bots: list[Any] = []
    try:
        echo_id = await server.register("echo", PASSWORD)
        bot_id = await server.register("homeward", PASSWORD)
        client_id = await server.register("nurse", PASSWORD)
        if in_process:
            echo: Any = EchoBot(server.url, echo_id, base / "echo")
            await echo.start()
            echo_room = await echo.create_room_like_a_care_room(client_id)
        else:
            echo = EchoProcess(server, echo_id, base / "echo", client_id)
            echo_room = await echo.start()
        bots.append(echo)
        bots.append(await start_homeward(server, bot_id, base, in_process))
        nurse = await Member.login(server.url, client_id, PASSWORD, base / "nurse")

        await nurse.join(echo_room)
        dm = await nurse.create_room(invite=[bot_id])
        await nurse.wait_for_membership(dm, bot_id, "join")
        while bot_id not in getattr(
            nurse.client.rooms.get(dm), "users", {}
        ):  # else the first message has no key for the bot
            await asyncio.sleep(0.05)
        # Every task of the pathway can be acknowledged once per case: open enough cases.
        tasks = [item.id for _, item in load_pathways(default_pathways_dir())[PATHWAY].items() if item.kind == "task"]
        opened: list[float] = []
        cases = []
        for n in range(max(5, -(-(runs + 1) // len(tasks)))):
            started = time.perf_counter()
            cases.append(await open_case(nurse, dm, f"Bench{n + 1}"))
            opened.append((time.perf_counter() - started) * 1000)  # the answer, joined, the checklist seen
        acks = [(room, f"!ack {task}") for room in cases for task in tasks]
        case_room = cases[0]
        for _ in range(3):  # warm up both paths (sessions shared, keys claimed)
            await timed(nurse, echo_room, "!ping")
            await timed(nurse, case_room, "!ping")
        await timed(nurse, case_room, "!status")

        # Start, `starts` times, Homeward and the floor in turn, before the samples. Homeward: stopped and started
        # again on its data; spawn to the answer to a !ping sent at once. The like-for-like floor: its echo process
        # stopped and started again on its saved session (device, token, Olm/Megolm store; no login, no key upload,
        # no room made), spawn until its first sync is done, plus the round trip of a `!ping` in its room then (it
        # answers only what comes after that sync: it keeps no sync position). Before the samples: a floor that
        # has sent tens of answers in its room takes 2.5-3.5 s more for its first answer after a restart (nio; with
        # 5 answers sent before, 0.5-0.9 s), which is no cost of starting.
        took: dict[str, list[float]] = {"homeward": [], "floor": []}
        parts: list[str] = []
        if not in_process:
            homeward = bots.pop()
            for _ in range(starts):
                await homeward.stop()
                started = time.perf_counter()
                await homeward.start()
                first = await nurse.send(dm, "!ping")
                await nurse.wait_for(answer_to(first), timeout=120)
                took["homeward"].append(time.perf_counter() - started)
                await echo.stop()
                echo = EchoProcess(server, echo_id, base / "echo", RESUME, log_path=base / "echo-restarts.log")
                started = time.perf_counter()
                await echo.start()
                ready = time.perf_counter() - started
                first_ms, _ = await timed(nurse, echo_room, "!ping")
                took["floor"].append(ready + first_ms / 1000)
                parts.append(f"{ready:.2f} + {first_ms / 1000:.2f}")
                bots.append(echo)
            bots.append(homeward)

        pids = {"floor": echo.pid, "homeward": bots[-1].process.pid} if not in_process else {}
        cpu: dict[str, list[float]] = {"floor": [], "!ping": [], "!status": [], "!ack": []}
        open_sample: tuple[str, int, float] | None = None

        def close_sample() -> None:
            if open_sample is not None:
                name, pid, before = open_sample
                cpu[name].append(cpu_ms(pid) - before)

        floor: list[float] = []
        results: dict[str, list[float]] = {"!ping": [], "!status": [], "!ack": []}
        refused = 0
        for run in range(runs):
            for step, name in enumerate(results):
                room, body = acks.pop(0) if name == "!ack" else (case_room, name)
                sides = ["floor", "homeward"] if (run + step) % 2 == 0 else ["homeward", "floor"]
                for side in sides:
                    await asyncio.sleep(pause)
                    if pids:  # a sample's CPU: from its send to the next sample's (its aftermath included)
                        close_sample()
                        pid = pids["floor" if side == "floor" else "homeward"]
                        open_sample = ("floor" if side == "floor" else name, pid, cpu_ms(pid))
                    if side == "floor":
                        elapsed, _ = await timed(nurse, echo_room, "!ping")
                        floor.append(elapsed)
                    else:
                        elapsed, answer = await timed(nurse, room, body)
                        refused += answer.content.get("homeward.status") != "ok"
                        results[name].append(elapsed)
                    if on_sample:
                        await on_sample(side if side == "floor" else name, elapsed)

        print("Homeward command round trip against the floor (bench/roundtrip.py)")
        print(f"date:    {datetime.now(UTC).isoformat(timespec='seconds')}")
        print(f"machine: nproc {os.cpu_count()}, {platform.machine()}, Python {platform.python_version()}")
        print(
            f"runs:    {runs} per command, interleaved with {len(floor)} floor samples, {pause} s apart; one client, "
            "encrypted rooms alike, one local Synapse, "
            f"bots {'in this process' if in_process else 'in processes of their own'}"
        )
        print(f"bytecode: Homeward's {compiled} modules byte-compiled first, as pip installs them (bench/roundtrip.py)")
        print(f"floor (bare nio echo bot, !ping): p50 {p(floor, 0.5):7.1f} ms  p95 {p(floor, 0.95):7.1f} ms")
        for name, values in results.items():
            print(
                f"Homeward {name:8}: p50 {p(values, 0.5):7.1f} ms  p95 {p(values, 0.95):7.1f} ms   "
                f"ratio to floor p50 {p(values, 0.5) / p(floor, 0.5):.2f}  p95 {p(values, 0.95) / p(floor, 0.95):.2f}"
            )
        print(f"(mean floor {statistics.mean(floor):.1f} ms; answers that were not ok: {refused})")
        if pids:
            await asyncio.sleep(pause)
            close_sample()
            floor_cpu = statistics.mean(cpu["floor"])
            print(
                f"CPU per command (mean, all threads, from the send to the next sample): floor !ping {floor_cpu:.1f} ms"
            )
            for name, events in (("!ping", 1), ("!status", 1), ("!ack", 2)):
                mean = statistics.mean(cpu[name])
                print(
                    f"  Homeward {name:8}: {mean:5.1f} ms, {events} event(s) sent: {mean / events:5.1f} ms per event, "
                    f"{mean / events / floor_cpu:.2f}x the floor's per event"
                )
            print(f"RSS now: floor {rss_mib(pids['floor']):.0f} MiB, Homeward {rss_mib(pids['homeward']):.0f} MiB")
            print(f"!case new, send to answer: p50 {p(CASE_NEW_MS, 0.5):.0f} ms over {len(CASE_NEW_MS)}")
            created = await create_room_floor(nurse, echo_id, 5)
            print(
                f"  Synapse's own createRoom of the same request (the client's, {len(created)}): "
                f"p50 {p(created, 0.5):.0f} ms ({', '.join(f'{ms:.0f}' for ms in created)})"
            )
            print(
                f"Homeward restart, spawn to the first answer: {statistics.median(took['homeward']):.2f} s median of "
                f"{starts} ({', '.join(f'{t:.2f}' for t in took['homeward'])})"
            )
            print(
                f"floor restart on its session, spawn to first sync done + first answer: "
                f"{statistics.median(took['floor']):.2f} s median of {starts} ({', '.join(parts)}); "
                f"Homeward {statistics.median(took['homeward']) - statistics.median(took['floor']):+.2f} s"
            )
            # The floor's start as measured before (not like for like: a new echo process logs in anew, uploads a
            # new device's keys and makes a room), spawn until its room exists, plus the round trip of a first
            # `!ping` in that room once the nurse has joined it.
            second = EchoProcess(server, echo_id, base / "echo-restart", client_id)
            started = time.perf_counter()
            second_room = await second.start()
            ready = time.perf_counter() - started
            bots.append(second)
            await nurse.join(second_room)
            first_ms, _ = await timed(nurse, second_room, "!ping")
            print(
                f"floor start anew (login, room made), spawn to its room made {ready:.2f} s + first answer "
                f"{first_ms / 1000:.2f} s = {ready + first_ms / 1000:.2f} s"
            )
        await nurse.close()
    finally:
        for bot in reversed(bots):
            await bot.stop()
        await server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--pause", type=float, default=0.2, help="seconds between samples")
    parser.add_argument("--in-process", action="store_true", help="run both bots in this process, with the client")
    parser.add_argument("--starts", type=int, default=3, help="restarts of each bot, in turn")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.runs, arguments.in_process, arguments.pause, starts=arguments.starts))
