"""The store on PostgreSQL against SQLite: command round trip and `!case new`, each as a ratio to the floor.

In one run, on one local Synapse: the bare nio echo bot (the floor, bench/floor.py), Homeward
on SQLite (its file, WAL, synchronous=FULL) and Homeward on PostgreSQL (a local server on
loopback from the machine's binaries, fsync and synchronous_commit on: homeward.dev.postgres
with durable=True), each in a process of its own, answering the same client. Samples are
interleaved (floor, SQLite, PostgreSQL, the order rotating) `--pause` apart. For `!ping` and
`!case new` it prints p50 and p95 of each, each engine's ratio to the floor's `!ping` p50, and
PostgreSQL's ratio over SQLite's (the issue's bound: within 1.1).

    .venv/bin/python bench/engines.py [--runs 30] [--pause 0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from common import header  # its sibling, which puts the checkout on sys.path
from floor import PASSWORD, EchoProcess
from roundtrip import _toml, p, timed

from homeward.dev.postgres import LocalPostgres
from homeward.dev.synapse import LocalSynapse
from tests.harness import BotProcess, Member

PATHWAY = "sthf"


async def start_homeward(server: LocalSynapse, bot_id: str, base: Path, database: str) -> BotProcess:
    base.mkdir(parents=True, exist_ok=True)
    settings = {
        "homeserver": server.url,
        "user_id": bot_id,
        "password": PASSWORD,
        "data_dir": str(base / "data"),
        "database": database,
        "allowed_inviters": [f"*:{server.server_name}"],
        "case_openers": [f"*:{server.server_name}"],
        "rate_limits": {"case new": "off", "*": "off"},  # the benchmark, not the brake (issue 24)
        "language": "en",
    }
    config = base / "homeward.toml"
    config.write_text(
        "".join(f"{key} = {_toml(value)}\n" for key, value in settings.items()) + 'log_level = "WARNING"\n',
        encoding="utf-8",
    )
    bot = BotProcess(config, base / "homeward.log")
    await bot.start()
    return bot


async def direct_chat(nurse: Member, bot_id: str) -> str:
    dm = await nurse.create_room(invite=[bot_id])
    await nurse.wait_for_membership(dm, bot_id, "join")
    while bot_id not in getattr(nurse.client.rooms.get(dm), "users", {}):
        await asyncio.sleep(0.05)
    return dm


async def case_new(nurse: Member, dm: str, label: str) -> float:
    """Milliseconds until the answer to `!case new` (the room created, the case recorded) is decrypted."""
    elapsed, answer = await timed(nurse, dm, f"!case new {PATHWAY} {label}")
    assert "homeward.room_id" in answer.content or "homeward.undecryptable" in answer.content, sorted(answer.content)
    return elapsed


async def main(runs: int, pause: float) -> None:
    base = Path(tempfile.mkdtemp(prefix="homeward-engines-"))
    server = LocalSynapse(base / "synapse")
    postgres = LocalPostgres(durable=True)
    await server.start()
    await asyncio.to_thread(postgres.start)
    processes: list[Any] = []
    try:
        echo_id = await server.register("echo", PASSWORD)
        client_id = await server.register("nurse", PASSWORD)
        echo = EchoProcess(server, echo_id, base / "echo", client_id)
        echo_room = await echo.start()
        processes.append(echo)
        bots = {}
        for engine, database in (("sqlite", "sqlite"), ("postgresql", postgres.url())):
            bot_id = await server.register(f"homeward-{engine}", PASSWORD)
            processes.append(await start_homeward(server, bot_id, base / engine, database))
            bots[engine] = bot_id
        nurse = await Member.login(server.url, client_id, PASSWORD, base / "nurse")
        await nurse.join(echo_room)
        rooms = {engine: await direct_chat(nurse, bot_id) for engine, bot_id in bots.items()}
        for _ in range(3):  # warm up every path (sessions shared, keys claimed, statements prepared)
            await timed(nurse, echo_room, "!ping")
            for engine in bots:
                await timed(nurse, rooms[engine], "!ping")
                await case_new(nurse, rooms[engine], "Warm")

        samples: dict[str, list[float]] = {"floor": []}
        for engine in bots:
            samples[f"{engine} !ping"], samples[f"{engine} !case new"] = [], []
        sides = ["floor", *bots]
        for run in range(runs):
            order = sides[run % 3 :] + sides[: run % 3]
            for side in order:
                await asyncio.sleep(pause)
                if side == "floor":
                    samples["floor"].append((await timed(nurse, echo_room, "!ping"))[0])
                    continue
                samples[f"{side} !ping"].append((await timed(nurse, rooms[side], "!ping"))[0])
                await asyncio.sleep(pause)
                samples[f"{side} !case new"].append(await case_new(nurse, rooms[side], f"Run{run}"))

        header(
            "The store on PostgreSQL against SQLite (bench/engines.py)",
            f"{runs} of each, interleaved {pause} s apart; one client, one local Synapse, each bot a process of its "
            "own; PostgreSQL on loopback with fsync and synchronous_commit on",
        )
        floor = p(samples["floor"], 0.5)
        print(f"floor (bare nio echo bot, !ping): p50 {floor:7.1f} ms  p95 {p(samples['floor'], 0.95):7.1f} ms")
        for command in ("!ping", "!case new"):
            ratios = {}
            for engine in bots:
                values = samples[f"{engine} {command}"]
                ratios[engine] = p(values, 0.5) / floor
                print(
                    f"{engine:10} {command:9}: p50 {p(values, 0.5):7.1f} ms  p95 {p(values, 0.95):7.1f} ms  "
                    f"mean {statistics.mean(values):7.1f} ms  ratio to the floor p50 {ratios[engine]:.2f}"
                )
            print(f"  PostgreSQL / SQLite, {command}: {ratios['postgresql'] / ratios['sqlite']:.3f}")
        await nurse.close()
    finally:
        for process in reversed(processes):
            await process.stop()
        await server.stop()
        postgres.stop()
    print(f"(took {time.monotonic() - started:.0f} s)")


started = time.monotonic()

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--pause", type=float, default=0.2, help="seconds between samples")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.runs, arguments.pause))
