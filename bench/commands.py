"""The bot's own share of a command, without a homeserver: SQL statements and milliseconds.

A round trip through Synapse (bench/roundtrip.py) is mostly the homeserver's; this
measures what Homeward adds between a decrypted event and the start of its send, which
is the part the code controls: the command's transaction (dispatch, handler, audit,
checklist edit, reminder re-plan, COMMIT with fsync) plus the outbox sender's read of
the answer and the building of its content. Every SQL statement is counted with
SQLite's trace callback. The store is a real file (WAL, synchronous=FULL), as in
production. The decryption and sync parsing that come before are nio's and the same
for any bot (the floor's 0.9 ms in BENCHMARKS.md).

With `--postgresql` the store is a PostgreSQL database instead, on a local server on
loopback from the machine's binaries with fsync and synchronous_commit on (homeward.dev.postgres).

    .venv/bin/python bench/commands.py [--runs 200] [--profile ack] [--postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import homeward.commands.handlers  # noqa: F401  (registers every command)
from homeward.care.pathway import default_pathways_dir, load_pathways
from homeward.clock import Clock
from homeward.commands.context import IncomingCommand
from homeward.commands.dispatch import handle_command
from homeward.config import Config
from homeward.messages.catalog import Catalog
from homeward.store import cases, outbox
from homeward.store.db import Store
from homeward.store.state import remember_room
from homeward.work.services import Services
from tests.clock import FakeClock as _Clock


def _services(config: Config, clock: Clock) -> Services:
    return Services(
        config=config,
        catalog=Catalog(),
        clock=clock,
        pathways=load_pathways(default_pathways_dir()),
    )


COORDINATOR = "@coord:bench"
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def _case(store: Store, n: int) -> str:
    room = f"!case{n}:bench"
    async with store.transaction() as db:
        await remember_room(db, room, "case", "en", START)
        case_id = await cases.open_case(
            db,
            pathway_id="sthf",
            label=f"Bench{n}",
            phase_id="planlegge-utskrivning",
            opened_by=COORDINATOR,
            opened_in="!dm:bench",
            create_outbox=-n - 1,
            now=START,
        )
        await cases.bind_room(db, -n - 1, room)
        await cases.put_member(db, case_id, COORDINATOR, "sykehus", True, COORDINATOR, START)
    return room


async def _sender_read(store: Store) -> None:
    """What the outbox sender does before it calls the homeserver: read the pending rows."""
    async with store.read() as db:
        rows = await outbox.pending(db)
        for row in rows:
            await outbox.mark_sent(db, row.id, f"$sent{row.id}", START)


async def main(runs: int, profile: str | None, postgresql: bool = False) -> None:
    base = Path(tempfile.mkdtemp(prefix="homeward-bench-commands-"))
    server = None
    if postgresql:
        from homeward.dev.postgres import LocalPostgres
        from homeward.store.db import PostgresStore

        server = LocalPostgres(durable=os.environ.get("BENCH_PG_FAST") is None)
        server.start()
        store: Store = await PostgresStore.open_url(server.fresh_url())
        assert await store.take_lease("bench", ttl_s=3600)  # type: ignore[attr-defined]
    else:
        store = await Store.open(base / "homeward.sqlite3")
    config = Config.model_validate(
        {
            "homeserver": "http://127.0.0.1:1",
            "user_id": "@bot:bench",
            "password": "x",
            "language": "en",
            # The brake off: one person's hundreds of commands on a clock that stands still (issue 24).
            "rate_limits": {"*": "off"},
        }
    )
    services = _services(config, _Clock(START))
    statements: list[str] = []
    await store._db.set_trace_callback(statements.append)
    pathway = load_pathways(default_pathways_dir())["sthf"]
    tasks = [item.id for item in pathway.phases[0].items if item.kind == "task" and item.lane == "sykehus"]
    status_room = await _case(store, 0)
    # `!ack` acknowledges a real open task each time: one case per task list.
    ack_rooms = [await _case(store, n + 1) for n in range(-(-runs // max(len(tasks), 1)))]
    acks = [(room, f"!ack {task}") for room in ack_rooms for task in tasks]
    await _sender_read(store)
    counter = 0
    results: dict[str, dict[str, list[float]]] = {}
    profiler = cProfile.Profile() if profile else None
    for name in ("ping", "status", "ack"):
        for _ in range(5):  # warm-up
            counter += 1
            room, body = (status_room, f"!{name}") if name != "ack" else (status_room, "!ping")
            await handle_command(
                IncomingCommand(room, f"$w{counter}", COORDINATOR, body, 0, encrypted=True, room_encrypted=True),
                store,
                services,
            )
            await _sender_read(store)
        figures = results.setdefault(name, {"ms": [], "cpu": [], "sql": []})
        for _ in range(runs):
            counter += 1
            room, body = acks.pop(0) if name == "ack" else (status_room, f"!{name}")
            event = IncomingCommand(room, f"$e{counter}", COORDINATOR, body, 0, encrypted=True, room_encrypted=True)
            statements.clear()
            if profiler and name == profile:
                profiler.enable()
            wall, cpu = time.perf_counter(), time.process_time()
            await handle_command(event, store, services)
            await _sender_read(store)
            figures["ms"].append((time.perf_counter() - wall) * 1000)
            figures["cpu"].append((time.process_time() - cpu) * 1000)
            if profiler and name == profile:
                profiler.disable()
            figures["sql"].append(
                sum(
                    1
                    for s in statements
                    if not s.startswith(("SELECT * FROM outbox WHERE status", "UPDATE outbox SET status = 'sent'"))
                )
            )
    await store.close()
    if server is not None:
        server.stop()
    print("Homeward's own share of a command (bench/commands.py): dispatch transaction + sender's read")
    where = "PostgreSQL on loopback (fsync on)" if postgresql else base
    print(f"date: {datetime.now(UTC).isoformat(timespec='seconds')}, {runs} runs each, store on {where}")
    for name, figures in results.items():
        sql, ms = figures["sql"], figures["ms"]
        p95 = sorted(ms)[int(0.95 * (len(ms) - 1))]
        print(
            f"!{name:7} SQL statements per command {statistics.median(sql):4.0f} (max {max(sql):.0f})  "
            f"wall p50 {statistics.median(ms):6.2f} ms  p95 {p95:6.2f} ms  "
            f"CPU p50 {statistics.median(figures['cpu']):6.2f} ms"
        )
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--profile", choices=["ping", "status", "ack"], help="print a cProfile of this command")
    parser.add_argument("--postgresql", action="store_true", help="the store on a local PostgreSQL server")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.runs, arguments.profile, arguments.postgresql))
