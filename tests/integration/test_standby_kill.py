"""Two `homeward run` processes on one PostgreSQL store, the acting one SIGKILLed: the other answers, nothing is
lost, nothing doubled (the crash tests' ledger, across two processes). The full run, with ten kills and 200
commands, is bench/standby.py."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from homeward.bot.lease import LEASE_S
from tests.harness import BotAccount, Member
from tests.integration.care import bring_in, ok, open_case
from tests.integration.ledger import Ledger
from tests.standby import Pair

OSLO = ZoneInfo("Europe/Oslo")
DUE = datetime(2026, 12, 1, 10, 0, tzinfo=OSLO)


async def test_killing_the_acting_process_twice_loses_nothing_and_doubles_nothing(
    synapse, new_user, make_member, tmp_path, postgres
):
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    print(f"standby kill test seed {seed}")
    user_id, password = await new_user(prefix="homeward")
    shift = (DUE - datetime.now(UTC)).total_seconds() - 30  # the reminders come due mid-run
    pair = Pair(tmp_path, synapse.url, synapse.server_name, user_id, password, postgres.fresh_url(migrated=True))
    await pair.start(time_shift_seconds=shift)
    try:
        ingrid, kari = await make_member("ingrid"), await make_member("kari")
        room, _ = await open_case(ingrid, BotAccount(user_id), "sthf", "Maane")
        ok(await ingrid.command(room, f"!role {ingrid.user_id} sykehus coordinator"))
        await bring_in(ingrid, room, kari, "kommunen")
        for item_id in ("behandlingsteam", "kartlegge-bistandsbehov"):
            ok(await kari.command(room, f"!remind {item_id} 2026-12-01 10:00"))

        ledger = Ledger(room)
        takeovers: list[float] = []

        async def work(member: Member, commands: list[str]) -> None:
            for text in commands:
                await ledger.send(member, text)
                await asyncio.sleep(rng.uniform(0.2, 0.8))

        burst = asyncio.gather(
            work(ingrid, [f"!plan goal Mål {n}" if n % 2 else "!status" for n in range(20)]),
            work(
                kari,
                [rng.choice(["!ack ressursteam", "!ping", "!status", "!snooze ressursteam 2h"]) for _ in range(20)],
            ),
        )
        for _ in range(2):
            await asyncio.sleep(rng.uniform(4, 8))
            await pair.wait_started()  # the one killed before stands by again
            killed = time.monotonic()
            await pair.kill_acting()
            answer = await ingrid.command(room, "!ping", timeout=LEASE_S + 30)  # the first answer after the kill
            takeovers.append(time.monotonic() - killed)
            assert answer.content["body"] == "pong"
        await burst
        await ledger.wait_until_answered(timeout=120)
        for _ in range(240):
            if {r[0] for r in ledger.reminders_seen(kari)} >= {"behandlingsteam", "kartlegge-bistandsbehov"}:
                break
            await asyncio.sleep(0.25)
        await ingrid.command(room, "!ping", timeout=30)
        await asyncio.sleep(3)  # a doubled answer or reminder would have arrived by now
    finally:
        await pair.stop()

    counts = ledger.verify(pair.database, watcher=kari)
    print(f"{pair.kills} kills, takeover to first answer {[round(t, 1) for t in takeovers]} s: {counts}")
    assert pair.kills == 2 and counts["accepted"] == 40
    assert counts["reminders"] == 2
    assert max(takeovers) < LEASE_S + 10
