"""Benchmark: how late Homeward's reminder scheduler fires, and how fast it starts up.

Run from the repository root:

    .venv/bin/python bench/reminders.py

It is not a test: it prints figures and exits 0. It takes about a minute and needs no
homeserver; everything runs against a temporary SQLite store that is deleted at the end.

What it measures
----------------

a. Lateness under a burst. 100 care rooms (cases bound to fake room ids, pathway
   `orebro`) and 1,000 `custom` reminders whose planned time is spread uniformly over
   one minute, starting two seconds after set-up. The real `work.scheduler.
   ReminderScheduler` runs with a real clock and a real store: APScheduler wakes it,
   `tick()` fires each due reminder in its own transaction (queue the outbox message,
   mark the row sent, audit, re-plan the case). Lateness of one reminder is
   `reminders.fired_at - reminders.planned_at` as recorded in the store (`fired_at`
   is the clock reading `fire()` takes as it opens the reminder's transaction; the
   commit follows, an fsync later). Printed: median, p95 and worst, and the time
   from the scheduler's start to the last reminder fired.

   This covers Homeward's scheduler and store only. Nothing is sent to a homeserver:
   the outbox rows are left queued, and the event loop runs nothing else (no sync
   loop, no outbox sender). Delivery by the homeserver (outbox sender,
   encryption, federation) is measured elsewhere.

b. Start-up rebuild. A fresh store file with 10,000 planned reminders over the next
   30 days (100 cases). Timed with `time.perf_counter`, median of 5 runs: from
   `Store.open` of the file to a `ReminderScheduler.start()` that has its one job
   aimed at the earliest reminder — what the bot does at start-up. Separately, the
   time of one `store.reminders.next_fire_at` query on that store.
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import common  # noqa: F401 - puts the checkout on sys.path, as in every benchmark

from homeward.care.pathway import Pathway, default_pathways_dir, load_pathways
from homeward.clock import Clock
from homeward.config import Config
from homeward.messages.catalog import Catalog
from homeward.store import cases
from homeward.store import reminders as rows
from homeward.store.db import Store
from homeward.store.rows import one_row
from homeward.work.scheduler import JOB_ID, ReminderScheduler
from homeward.work.services import Services

ROOMS = 100
BURST = 1_000
BURST_SPAN = timedelta(seconds=60)
BURST_LEAD = timedelta(seconds=2)  # the first reminder is due this long after set-up
BURST_TIMEOUT = timedelta(seconds=30)  # give up waiting this long after the last one is due
REBUILD_ROWS = 10_000
REBUILD_SPAN = timedelta(days=30)
REBUILD_RUNS = 5
NEXT_FIRE_RUNS = 101
BOT = "@homeward-bench:localhost"
PEOPLE = "@bench-nurse:localhost"
# Open items of the Örebro pathway's first phase; a custom reminder is kept while its item is open.
ITEMS = ("inskrivningsmeddelande", "generellt-meddelande", "kontaktperson-kommun", "konsultation")


def services(pathways: dict[str, Pathway], clock: Clock) -> Services:
    config = Config.model_validate(
        {"homeserver": "http://127.0.0.1:1", "user_id": BOT, "password": "not-used", "data_dir": "/nonexistent"}
    )
    return Services(
        config=config,
        catalog=Catalog(),
        clock=clock,
        pathways=pathways,
    )


async def make_cases(store: Store, now: datetime) -> list[int]:
    """100 Örebro cases, each bound to a (fake) care room, with one slutenvård member."""
    ids: list[int] = []
    async with store.transaction() as db:
        for n in range(ROOMS):
            create_outbox = 1_000_000 + n  # no outbox row needed: the room is bound right away
            case_id = await cases.open_case(
                db,
                pathway_id="orebro",
                label=f"Bench {n}",
                phase_id="identifiering",
                opened_by=PEOPLE,
                opened_in="!bench-lobby:localhost",
                create_outbox=create_outbox,
                now=now,
            )
            await cases.bind_room(db, create_outbox, f"!bench-{n}:localhost")
            await cases.put_member(db, case_id, PEOPLE, "slutenvard", True, PEOPLE, now)
            ids.append(case_id)
    return ids


async def add_reminders(store: Store, case_ids: list[int], start: datetime, span: timedelta, count: int) -> None:
    """`count` custom reminders, planned uniformly over [start, start + span), round-robin over the cases."""
    step = span / count
    async with store.transaction() as db:
        for i in range(count):
            case_id = case_ids[i % len(case_ids)]
            await rows.add_custom(db, case_id, ITEMS[(i // len(case_ids)) % len(ITEMS)], start + i * step, PEOPLE)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


async def lateness(pathways: dict[str, Pathway], workdir: Path) -> None:
    clock = Clock()
    store = await Store.open(workdir / "burst.sqlite3")
    try:
        set_up_at = clock.now()
        case_ids = await make_cases(store, set_up_at)
        first = clock.now() + BURST_LEAD
        await add_reminders(store, case_ids, first, BURST_SPAN, BURST)
        last = first + BURST_SPAN * (BURST - 1) / BURST

        scheduler = ReminderScheduler(store, services(pathways, clock), clock)
        started = clock.now()
        await scheduler.start()
        give_up = last + BURST_TIMEOUT
        while clock.now() < give_up:
            async with store.read() as db, db.execute("SELECT COUNT(*) FROM reminders WHERE status = 'planned'") as cur:
                (left,) = await one_row(cur)
            if left == 0:
                break
            await asyncio.sleep(0.25)
        scheduler.stop()

        async with store.read() as db:
            async with db.execute("SELECT status, planned_at, fired_at FROM reminders") as cur:
                fetched = await cur.fetchall()
            async with db.execute("SELECT COUNT(*) FROM outbox") as cur:
                (queued,) = await one_row(cur)
        fired_at = [datetime.fromisoformat(r["fired_at"]) for r in fetched if r["fired_at"]]
        run_s = ((max(fired_at) if fired_at else clock.now()) - started).total_seconds()
        late_ms = [
            (datetime.fromisoformat(r["fired_at"]) - datetime.fromisoformat(r["planned_at"])).total_seconds() * 1000
            for r in fetched
            if r["status"] == "sent"
        ]
        unsent: dict[str, int] = {}
        for r in fetched:
            if r["status"] != "sent":
                unsent[r["status"]] = unsent.get(r["status"], 0) + 1
    finally:
        await store.close()

    print(
        f"a. Lateness: {BURST:,} custom reminders due within {BURST_SPAN.total_seconds():.0f} s "
        f"across {ROOMS} care rooms"
    )
    print("   (Homeward's scheduler + store only: fired_at - planned_at as recorded in the store;")
    print("    delivery by the homeserver is not included and is measured elsewhere)")
    print(f"   fired:          {len(late_ms):,} of {BURST:,}" + (f"  NOT FIRED: {unsent}" if unsent else ""))
    print(f"   outbox rows:    {queued:,} queued")
    if late_ms:
        print(f"   median late:    {statistics.median(late_ms):8.1f} ms")
        print(f"   p95 late:       {percentile(late_ms, 95):8.1f} ms")
        print(f"   worst late:     {max(late_ms):8.1f} ms")
        print(f"   earliest:       {min(late_ms):8.1f} ms  (negative would mean fired before its time)")
    print(
        f"   whole run:      {run_s:8.1f} s   (scheduler start to the last reminder fired; the reminders are due over "
        f"{(last - first).total_seconds():.1f} s, the first {(first - started).total_seconds():.1f} s after the start)"
    )


async def rebuild(pathways: dict[str, Pathway], workdir: Path) -> None:
    path = workdir / "rebuild.sqlite3"
    clock = Clock()
    store = await Store.open(path)
    try:
        case_ids = await make_cases(store, clock.now())
        await add_reminders(store, case_ids, clock.now() + timedelta(minutes=5), REBUILD_SPAN, REBUILD_ROWS)
        async with store.read() as db, db.execute("SELECT COUNT(*) FROM reminders WHERE status = 'planned'") as cur:
            (planned,) = await one_row(cur)
    finally:
        await store.close()

    start_ms: list[float] = []
    for _ in range(REBUILD_RUNS):
        t0 = time.perf_counter()
        store = await Store.open(path)
        scheduler = ReminderScheduler(store, services(pathways, clock), clock)
        await scheduler.start()
        aimed = scheduler.scheduler.get_job(JOB_ID)
        t1 = time.perf_counter()
        if aimed is None:
            raise SystemExit("the scheduler did not aim its job after start(); the rebuild figure would be meaningless")
        scheduler.stop()
        await store.close()
        start_ms.append((t1 - t0) * 1000)

    store = await Store.open(path)
    try:
        query_ms: list[float] = []
        async with store.read() as db:
            for _ in range(NEXT_FIRE_RUNS):
                t0 = time.perf_counter()
                earliest = await rows.next_fire_at(db)
                query_ms.append((time.perf_counter() - t0) * 1000)
    finally:
        await store.close()

    print(
        f"b. Start-up rebuild: {planned:,} planned reminders over {REBUILD_SPAN.days} days in {ROOMS} cases "
        f"({path.stat().st_size / 1e6:.1f} MB store)"
    )
    print(
        f"   Store.open -> ReminderScheduler.start() with its job aimed: median {statistics.median(start_ms):.1f} ms "
        f"of {REBUILD_RUNS} (min {min(start_ms):.1f}, max {max(start_ms):.1f})"
    )
    print(
        f"   store.reminders.next_fire_at:                             median {statistics.median(query_ms):.3f} ms "
        f"of {NEXT_FIRE_RUNS} (max {max(query_ms):.3f}); earliest {earliest.isoformat() if earliest else None}"
    )


async def main() -> None:
    logging.basicConfig(level=logging.WARNING)  # the scheduler logs every fired reminder at INFO
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:
        nproc = os.cpu_count() or 0
    print("Homeward reminder benchmark (bench/reminders.py)")
    print(f"date:    {datetime.now(UTC).astimezone().isoformat(timespec='seconds')}")
    print(f"machine: nproc {nproc}, {platform.machine()}, {platform.system()} {platform.release()}")
    print(f"python:  {platform.python_version()} ({platform.python_implementation()}), SQLite {sqlite3.sqlite_version}")
    pathways = load_pathways(default_pathways_dir())
    total = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="homeward-bench-") as tmp:
        print(f"store:   {tmp} (temporary; set TMPDIR to put it on the disk the bot's data_dir is on)")
        print()
        await lateness(pathways, Path(tmp))
        print()
        await rebuild(pathways, Path(tmp))
    print()
    print(f"total: {time.perf_counter() - total:.1f} s")


if __name__ == "__main__":
    asyncio.run(main())
