"""Two processes on one PostgreSQL store: how long a takeover takes, and nothing lost or doubled across many.

One local Synapse, one local PostgreSQL (loopback, fsync on), two `homeward run` processes of
one bot account (tests/standby.py). Two parts:

1. Takeover: `--kills` times (10), SIGKILL the acting process, at once send `!ping` and time
   it until the answer is decrypted: that is the time from the kill to the first answer from
   the other process (the lease must lapse first: LEASE_S + TRY_EVERY_S at most, bot/lease.py).
   The killed process is started again and stands by before the next kill.
2. Soak: `--commands` (200) commands and `--reminders` (50) custom reminders across `--rooms`
   (10) care rooms, the acting process SIGKILLed every 20–40 s (and started again) while they
   go in; then the crash tests' ledger checks, room by room (tests/integration/ledger.py):
   every accepted command handled, answered and audited once, each reminder in the room once.

    .venv/bin/python bench/standby.py [--kills 10] [--rooms 10] [--commands 200] [--reminders 50]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from common import header, median  # its sibling, which puts the checkout on sys.path

from homeward.bot.lease import LEASE_S, TRY_EVERY_S
from homeward.dev.postgres import LocalPostgres
from homeward.dev.synapse import LocalSynapse
from tests.harness import Member, replying_to
from tests.integration.ledger import Ledger
from tests.standby import Pair

OSLO = ZoneInfo("Europe/Oslo")
PASSWORD = "bench-password"
#: The reminders' items: none of them is acknowledged or snoozed by the soak's commands (which would rightly hold
#: their reminders back), so every reminder must reach its room.
ITEMS = ("behandlingsteam", "kartlegge-bistandsbehov", "tentativ-ut-dato", "utstyr-og-plan", "hjemreise")


async def open_case(member: Member, bot_id: str, label: str) -> str:
    dm = await member.create_room(invite=[bot_id])
    await member.wait_for_membership(dm, bot_id, "join")
    while bot_id not in getattr(member.client.rooms.get(dm), "users", {}):
        await asyncio.sleep(0.05)
    answer = await member.command(dm, f"!case new sthf {label}", timeout=60)
    room = answer.content["homeward.room_id"]
    await member.join(room)
    await member.wait_for(lambda s: s.room_id == room and "homeward.checklist" in s.content, timeout=60)
    await member.command(room, f"!role {member.user_id} sykehus coordinator", timeout=60)
    return room


async def main(kills: int, rooms: int, commands: int, reminders: int, seed: int) -> None:
    rng = random.Random(seed)
    started = time.monotonic()
    base = Path(tempfile.mkdtemp(prefix="homeward-standby-"))
    server = LocalSynapse(base / "synapse")
    postgres = LocalPostgres(durable=True)
    await server.start()
    await asyncio.to_thread(postgres.start)
    members: list[Member] = []
    pair: Pair | None = None
    try:
        bot_id = await server.register("homeward", PASSWORD)
        minutes = -(-reminders // rooms)  # reminders per room, one a minute of the bot's clock
        due = datetime(2026, 12, 1, 10, 0, tzinfo=OSLO)
        pair = Pair(base, server.url, server.server_name, bot_id, PASSWORD, postgres.url())
        await pair.start(time_shift_seconds=(due - datetime.now(UTC)).total_seconds() - 7200)  # nothing due yet
        people = [await server.register(f"nurse{n}", PASSWORD) for n in range(min(rooms, 5))]
        members = [await Member.login(server.url, p, PASSWORD, base / p[1:].split(":")[0]) for p in people]
        case_rooms = [await open_case(members[n % len(members)], bot_id, f"Rom{n}") for n in range(rooms)]
        coordinator = {room: members[n % len(members)] for n, room in enumerate(case_rooms)}

        # 1. Takeover time, kill after kill.
        takeovers: list[float] = []
        for _ in range(kills):
            room = rng.choice(case_rooms)
            killed = time.monotonic()
            await pair.kill_acting(restart_after=0.1)
            event_id = await coordinator[room].send(room, "!ping")
            await coordinator[room].wait_for(replying_to(event_id), timeout=60)
            takeovers.append(time.monotonic() - killed)
            await pair.wait_started()  # the killed process is back and stands by
            await asyncio.sleep(2)
        print(
            f"takeover, SIGKILL to the first answer from the other process: p50 {median(takeovers):.1f} s, "
            f"max {max(takeovers):.1f} s (all: {', '.join(f'{t:.1f}' for t in takeovers)})",
            flush=True,
        )

        if commands == 0:  # the takeover figures only
            return
        # 2. The soak: reminders due across the run, commands in every room, kills every 20-40 s.
        scheduled = 0
        for room in case_rooms:
            for minute in range(minutes):
                if scheduled == reminders:
                    break
                at = (due + timedelta(minutes=minute + 1)).strftime("%H:%M")
                answer = await coordinator[room].command(room, f"!remind {ITEMS[minute % len(ITEMS)]} 2026-12-01 {at}")
                assert answer.content["homeward.status"] == "ok", answer.content["body"]
                scheduled += 1
        # Both processes' clocks moved to just before the first reminder: restarted, the standby first.
        pair.rewrite(time_shift_seconds=(due - datetime.now(UTC)).total_seconds() - 20)
        standby = "b" if await pair.acting() == "a" else "a"
        await pair.processes[standby].kill()
        await pair.processes[standby].start()
        await asyncio.sleep(20)
        await pair.kill_acting(restart_after=0.1)
        ledgers = {room: Ledger(room) for room in case_rooms}
        soak_kills_before = pair.kills
        done = asyncio.Event()

        async def kill_now_and_then() -> None:
            while not done.is_set():
                try:
                    await asyncio.wait_for(done.wait(), rng.uniform(20, 40))
                except TimeoutError:
                    if await pair.acting() is not None:
                        await pair.kill_acting(restart_after=0.1)

        killer = asyncio.create_task(kill_now_and_then())
        for n in range(commands):
            room = case_rooms[n % rooms]
            text = rng.choice(["!ping", "!status", "!ack ressursteam", "!snooze plo 1h", "!reminders", "!team"])
            await ledgers[room].send(coordinator[room], text)
            await asyncio.sleep(rng.uniform(0.5, 2.0))
        done.set()
        await killer
        for ledger in ledgers.values():
            await ledger.wait_until_answered(timeout=180)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            seen = sum(len(ledger.reminders_seen(coordinator[room])) for room, ledger in ledgers.items())
            if seen >= scheduled:
                break
            await asyncio.sleep(1)
        await asyncio.sleep(5)  # a doubled answer or reminder would have arrived by now
        soak_kills = pair.kills - soak_kills_before
        await pair.stop()
        totals: dict[str, int] = {}
        for room, ledger in ledgers.items():
            for key, value in ledger.verify(pair.database, watcher=coordinator[room]).items():
                totals[key] = totals.get(key, 0) + value

        header(
            "Two processes on one PostgreSQL store: takeover and exactly-once (bench/standby.py)",
            f"{kills} takeovers; soak of {commands} commands and {scheduled} reminders in {rooms} rooms with "
            f"{soak_kills} kills (seed {seed}); lease {LEASE_S:.0f} s, a standby asks every {TRY_EVERY_S:.0f} s",
        )
        print(
            f"takeover, SIGKILL to the first answer from the other process: p50 {median(takeovers):.1f} s, "
            f"max {max(takeovers):.1f} s (all: {', '.join(f'{t:.1f}' for t in takeovers)})"
        )
        print(
            f"soak: {totals['accepted']} commands accepted, each answered once (0 lost, 0 doubled); "
            f"{totals['audit rows']} audit rows as expected; {totals['reminders']} of {scheduled} reminders in "
            "their rooms, each once"
        )
        print(f"(took {time.monotonic() - started:.0f} s)")
    finally:
        for member in members:
            await member.close()
        if pair is not None:
            await pair.stop()
        await server.stop()
        postgres.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--rooms", type=int, default=10)
    parser.add_argument("--commands", type=int, default=200)
    parser.add_argument("--reminders", type=int, default=50)
    parser.add_argument("--seed", type=int, default=random.randrange(1_000_000))
    arguments = parser.parse_args()
    asyncio.run(main(arguments.kills, arguments.rooms, arguments.commands, arguments.reminders, arguments.seed))
