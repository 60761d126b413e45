"""Morning: quiet hours end in 200 care rooms, and everything held overnight leaves at once.

    .venv/bin/python bench/morning.py [--rooms 200] [--coordinators 50] [--concurrency 8]
                                      [--sweep 1,2,4,8,16] [--no-legacy] [--rebuild]

Build (once; cached in .bench-cache/morning-<rooms>/, `--rebuild` to start over): a local Synapse
and `homeward run`; each of `--coordinators` encrypted coordinators opens rooms/coordinators cases
with a real `!case new` in their direct chat with the bot (so the chat is their worklist's), joins
each, and sets one reminder in it with `!remind` at 06:00 on Wednesday 2 December 2026 — inside
quiet hours, so it is held to 08:00 —, with `digest_time = "08:00"`, so that the 50 worklists
come due at the same moment (the cases are opened on the Friday before, on the bot's clock, and
`quiet_days = 1`, so that each case is on its coordinator's worklist as quiet: a worklist with
nothing to say is not sent). Then the bot is stopped and the folder kept as it is.

Measure, in one run, each from the same copy of the fixture (Synapse and the bot's data restored):
- Homeward (this code, `outbox_concurrency` = `--concurrency`, and each value of `--sweep`): the
  bot starts with its clock some seconds before 08:00, and the time from 08:00 on the bot's clock
  to the last of the morning's events taken by Synapse (the outbox's `sent_at`, same clock) is
  the figure; the bot's and Synapse's CPU over that span from /proc.
- Homeward with the sender of before (bench/legacy_sender.py, one event at a time), the same way.
- The floor: a plain matrix-nio client logged in as the bot's account (a new device, one full
  sync first, its sync loop running as a bot's would), sending the same number of encrypted
  events of the same sizes (the outbox's `content_size` of Homeward's run) into the same rooms,
  with the same number of requests in flight, each room's in order; timed from its first send
  to its last answer. Like Homeward after its start, it shares a new room key in each room with
  its first event there (nio keeps outbound sessions in memory only); a second floor has them
  shared before its clock starts (the cost of the morning's key sharing).

Targets (issue 24): Homeward ≤ 1.2× the floor, and at least 4× faster than the sender of before.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import sqlite3
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import common
from common import cpu_seconds, header, outbox_drained, table, write_bot_config
from nio import AsyncClient, AsyncClientConfig, LocalProtocolError, RoomSendResponse
from scale import PASSWORD, Driver, join, join_seen

from homeward.bot.sync import SYNC_FILTER
from homeward.dev.synapse import LocalSynapse
from tests.harness import BotProcess

OSLO = ZoneInfo("Europe/Oslo")
MORNING = datetime(2026, 12, 2, 8, 0, tzinfo=OSLO)  # a Wednesday; quiet hours end
HELD = "2026-12-02 06:00"  # inside quiet hours: held to 08:00
BUILT_AT = datetime(2026, 11, 27, 14, 0, tzinfo=OSLO)  # a Friday afternoon
ITEMS = ("behandlingsteam", "kartlegge-bistandsbehov", "starte-saksbehandling", "ressursteam")
LEAD_S = 40.0  # the bot starts this long before 08:00 on its clock (ready well before)


def bot_config(base: Path, server: LocalSynapse, bot_id: str, shift: float, concurrency: int) -> Path:
    config = base / "homeward.toml"
    write_bot_config(
        config, homeserver=server.url, user_id=bot_id, password=PASSWORD, data_dir=base / "bot", server_name="localhost"
    )
    with config.open("a", encoding="utf-8") as handle:
        handle.write(
            f'digest_time = "08:00"\nquiet_days = 1\ntime_shift_seconds = {shift}\noutbox_concurrency = {concurrency}\n'
        )
    return config


async def build(run: Path, pristine: Path, rooms: int, coordinators: int) -> dict[str, Any]:
    for folder in (run, pristine):
        if folder.exists():
            shutil.rmtree(folder)
    run.mkdir(parents=True)
    started = time.perf_counter()
    server = LocalSynapse(run / "synapse")
    await server.start()
    bot: BotProcess | None = None
    try:
        bot_id = await server.register("homeward", PASSWORD)
        people = [await server.register(f"coordinator-{n:02d}", PASSWORD) for n in range(coordinators)]
        # The build runs the Friday before, in the afternoon: by Wednesday morning the cases are quiet.
        shift = (BUILT_AT - datetime.now(UTC)).total_seconds()
        bot = BotProcess(bot_config(run, server, bot_id, shift, 8), run / "bot-build.log")
        await bot.start()
        queue: asyncio.Queue[int] = asyncio.Queue()
        for n in range(coordinators):
            queue.put_nowait(n)
        per = [rooms // coordinators + (1 if n < rooms % coordinators else 0) for n in range(coordinators)]
        made: list[str] = []

        async def coordinator_opens() -> None:
            while not queue.empty():
                n = queue.get_nowait()
                driver = await Driver.login(server.url, people[n], run / "clients" / f"c{n}")
                try:
                    direct = (
                        await driver.client.room_create(
                            invite=[bot_id],
                            is_direct=True,
                            preset=None,
                            initial_state=[
                                {
                                    "type": "m.room.encryption",
                                    "state_key": "",
                                    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
                                }
                            ],
                        )
                    ).room_id
                    await join_seen(driver, direct, bot_id)
                    await driver.wait_room(direct)
                    await asyncio.sleep(0.5)
                    await driver.ask(direct, "!ping")  # the chat becomes their worklist's
                    for j in range(per[n]):
                        answer = await driver.ask(direct, f"!case new sthf Morning-{n:02d}-{j}")
                        room = answer.content["homeward.room_id"]
                        await join(driver.client, room)
                        await driver.wait_room(room)
                        await driver.ask(room, f"!remind {ITEMS[j % len(ITEMS)]} {HELD}")
                        made.append(room)
                finally:
                    await driver.close()
                print(f"  {len(made)} rooms after {time.perf_counter() - started:.0f} s", flush=True)

        await asyncio.gather(*(coordinator_opens() for _ in range(6)))
        await outbox_drained(run / "bot" / "homeward.sqlite3")
    finally:
        if bot:
            await bot.stop()
        await server.stop()
    fixture = {
        "rooms": len(made),
        "coordinators": coordinators,
        "bot_id": bot_id,
        "built_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "build_seconds": round(time.perf_counter() - started),
    }
    (run / "fixture.json").write_text(json.dumps(fixture), encoding="utf-8")
    shutil.copytree(run, pristine)
    return fixture


def restore(run: Path, pristine: Path) -> None:
    shutil.rmtree(run)
    shutil.copytree(pristine, run)


def morning_rows(store: Path) -> list[tuple[str, int, str, str]]:
    """The rows of the morning (created at or after 08:00): (room, size, created, sent)."""
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
        return db.execute(
            "SELECT room_id, content_size, created_at, sent_at FROM outbox WHERE created_at >= ? ORDER BY id",
            (MORNING.astimezone(UTC).isoformat(),),
        ).fetchall()


async def homeward_morning(
    run: Path, pristine: Path, fixture: dict[str, Any], concurrency: int, legacy: bool
) -> dict[str, Any]:
    restore(run, pristine)
    server = LocalSynapse(run / "synapse")
    await server.start()
    try:
        shift = (MORNING - datetime.now(UTC)).total_seconds() - LEAD_S
        config = bot_config(run, server, fixture["bot_id"], shift, concurrency)
        script = None
        if legacy:
            script = run / "legacy-homeward"
            script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{common.ROOT / "bench" / "legacy_bot.py"}" "$@"\n')
            script.chmod(0o755)
        bot = BotProcess(config, run / "bot-measure.log", homeward=script)
        t_start = time.monotonic()
        await bot.start()
        assert bot.process
        pid = bot.process.pid
        eight = t_start + LEAD_S  # 08:00 on the bot's clock, near enough (the shift was set just before)
        await asyncio.sleep(max(0.0, eight - time.monotonic() - 1.0))
        bot_cpu0, hs_cpu0 = cpu_seconds(pid), cpu_seconds(server.pid or 0)
        counts = await outbox_drained(run / "bot" / "homeward.sqlite3", timeout=900)
        rows = morning_rows(run / "bot" / "homeward.sqlite3")
        bot_cpu, hs_cpu = cpu_seconds(pid) - bot_cpu0, cpu_seconds(server.pid or 0) - hs_cpu0
        await bot.stop()
    finally:
        await server.stop()
    sent = [datetime.fromisoformat(r[3]) for r in rows if r[3]]
    last = (max(sent) - MORNING).total_seconds()
    return {
        "events": len(rows),
        "abandoned": counts["outbox_abandoned"],
        "seconds": last,
        "bot_cpu": bot_cpu,
        "synapse_cpu": hs_cpu,
        "rows": [(r[0], r[1]) for r in rows],
    }


async def floor_morning(
    run: Path,
    pristine: Path,
    fixture: dict[str, Any],
    concurrency: int,
    rows: list[tuple[str, int]],
    preshare: bool = False,
) -> dict[str, Any]:
    """The same number of encrypted events of the same sizes into the same rooms, by a plain nio client.

    nio keeps a room's outbound Megolm session in memory only: Homeward, started just before 08:00,
    shares a new room key in each of the 200 rooms with its first event of the morning, and so does
    this floor (a new device) by default. With `preshare` the floor shares them before the clock
    starts: what a sender whose keys were already shared (a bot running since yesterday) costs.
    """
    restore(run, pristine)
    server = LocalSynapse(run / "synapse")
    await server.start()
    store = run / "floor-store"
    store.mkdir()
    client = AsyncClient(
        server.url, fixture["bot_id"], store_path=str(store), config=AsyncClientConfig(encryption_enabled=True)
    )
    syncing: asyncio.Task[None] | None = None
    try:
        await client.login(PASSWORD, device_name="floor")
        await client.keys_upload()
        await client.sync(timeout=0, full_state=True, sync_filter=SYNC_FILTER)
        if client.should_query_keys:
            await client.keys_query()
        syncing = asyncio.create_task(client.sync_forever(timeout=30_000, sync_filter=SYNC_FILTER))
        lanes: dict[str, list[int]] = {}
        for room, size in rows:
            lanes.setdefault(room, []).append(size or 500)
        for room in lanes if preshare else ():
            while True:
                try:
                    await client.share_group_session(room, ignore_unverified_devices=True)
                    break
                except LocalProtocolError:  # nio's own key query in flight
                    await asyncio.sleep(0.05)
        queue: asyncio.Queue[str] = asyncio.Queue()
        for room in lanes:
            queue.put_nowait(room)
        pid = os.getpid()
        cpu0, hs0 = cpu_seconds(pid), cpu_seconds(server.pid or 0)
        t0 = time.perf_counter()

        async def worker() -> None:
            while not queue.empty():
                room = queue.get_nowait()
                for size in lanes[room]:
                    content = {"msgtype": "m.notice", "body": "x" * max(1, size - 60)}
                    while True:
                        try:
                            response = await client.room_send(
                                room, "m.room.message", content, ignore_unverified_devices=True
                            )
                            break
                        except LocalProtocolError:  # nio's own key query in flight
                            await asyncio.sleep(0.05)
                    assert isinstance(response, RoomSendResponse), response

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - t0
        return {
            "events": len(rows),
            "seconds": seconds,
            "bot_cpu": cpu_seconds(pid) - cpu0,
            "synapse_cpu": cpu_seconds(server.pid or 0) - hs0,
        }
    finally:
        if syncing:
            syncing.cancel()
            await asyncio.gather(syncing, return_exceptions=True)
        await client.close()
        await server.stop()


async def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.ERROR)
    base = (args.cache / f"morning-{args.rooms}").resolve()
    run, pristine = base / "run", base / "pristine"
    if args.rebuild or not (pristine / "fixture.json").exists():
        print(f"building the fixture in {base} ({args.rooms} care rooms; takes a while) ...", flush=True)
        fixture = await build(run, pristine, args.rooms, args.coordinators)
    else:
        fixture = json.loads((pristine / "fixture.json").read_text(encoding="utf-8"))
    results: list[tuple[str, dict[str, Any]]] = []
    load_at_start = os.getloadavg()[0]
    ours = await homeward_morning(run, pristine, fixture, args.concurrency, legacy=False)
    results.append((f"Homeward, {args.concurrency} in flight", ours))
    print(f"  Homeward: {ours['seconds']:.1f} s", flush=True)
    floor = await floor_morning(run, pristine, fixture, args.concurrency, ours["rows"])
    results.append((f"floor (plain nio), {args.concurrency} in flight", floor))
    print(f"  floor: {floor['seconds']:.1f} s", flush=True)
    shared = await floor_morning(run, pristine, fixture, args.concurrency, ours["rows"], preshare=True)
    results.append((f"floor, room keys shared before 08:00, {args.concurrency} in flight", shared))
    print(f"  floor, keys shared before: {shared['seconds']:.1f} s", flush=True)
    if not args.no_legacy:
        before = await homeward_morning(run, pristine, fixture, 1, legacy=True)
        results.append(("Homeward, the sender of before (one at a time)", before))
        print(f"  before: {before['seconds']:.1f} s", flush=True)
    for n in args.sweep:
        if n != args.concurrency:
            swept = await homeward_morning(run, pristine, fixture, n, legacy=False)
            results.append((f"Homeward, {n} in flight", swept))
            print(f"  Homeward {n}: {swept['seconds']:.1f} s", flush=True)

    header(
        "Morning: quiet hours end in many care rooms (bench/morning.py)",
        f"{fixture['rooms']} care rooms, {fixture['coordinators']} coordinators; each variant once, from the same "
        f"copy of the fixture; load average {load_at_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end",
    )
    rows = []
    for name, r in results:
        rows.append(
            (
                name,
                str(r["events"]),
                f"{r['seconds']:.1f}",
                f"{r['events'] / r['seconds']:.1f}",
                f"{r['seconds'] / floor['seconds']:.2f}",
                f"{r['bot_cpu']:.1f}",
                f"{r['synapse_cpu']:.1f}",
            )
        )
    table(
        rows,
        ("sender", "events", "08:00 → last taken s", "events/s", "ratio to floor", "sender CPU s", "Synapse CPU s"),
    )
    if not args.no_legacy:
        before = next(r for name, r in results if "sender of before" in name)
        print(
            f"\nHomeward / floor {ours['seconds'] / floor['seconds']:.2f} (target ≤ 1.2); "
            f"before / Homeward {before['seconds'] / ours['seconds']:.1f}× (target ≥ 4)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rooms", type=int, default=200)
    parser.add_argument("--coordinators", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--sweep", type=lambda s: [int(x) for x in s.split(",") if x], default=[])
    parser.add_argument("--no-legacy", action="store_true", help="leave out the sender of before")
    parser.add_argument("--cache", type=Path, default=common.ROOT / ".bench-cache")
    parser.add_argument("--rebuild", action="store_true")
    asyncio.run(main(parser.parse_args()))
