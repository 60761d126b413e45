"""`!cases` and the morning worklist with 1,000 cases: one query per answer, and what it costs.

No homeserver: the cases are written straight into a store (a real file: WAL,
synchronous=FULL, as in production), alternately Telemark and Örebro, each with a team of
six (the coordinator, four lanes, a guardian), its dates set, a notice sent and partly
acknowledged, a consent answered, and 40 audit rows. One coordinator is on all of them (the
worst case; a full-time coordinator carries 20–50), and again with the 1,000 cases shared by 20
coordinators (50 each: what one of them waits for on a bot serving a region). Then `!cases` and `!digest` are run
through the whole dispatch (transaction, handler, answer queued) and timed, and the two
halves of the handler measured alone: the one store read (`store.caseload.cases_of`) and the
care logic's summaries (`care.caseload.summarize`). SQL statements are counted with SQLite's
trace callback.

    .venv/bin/python bench/cases.py [--cases 1000] [--runs 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common import header, percentile, table  # like every benchmark: its sibling, which puts the checkout on sys.path

import homeward.commands.handlers  # noqa: F401  (registers every command)
from homeward.care.case import Ack
from homeward.care.caseload import READING_ACTIONS, summarize
from homeward.care.consent import Answer
from homeward.care.pathway import default_pathways_dir, load_pathways
from homeward.commands.context import IncomingCommand
from homeward.commands.dispatch import handle_command
from homeward.config import Config
from homeward.messages.catalog import Catalog
from homeward.store import caseload as caseload_rows
from homeward.store import cases, consents, outbox
from homeward.store import people as people_rows
from homeward.store.db import Store
from homeward.store.state import remember_room
from homeward.work.services import Services
from tests.clock import FakeClock

COORDINATOR = "@coord:bench"
DM = "!dm:bench"
NOW = datetime(2026, 12, 2, 6, 30, tzinfo=UTC)  # Wednesday, 07:30 in Oslo
TEAMS = {
    "sthf": ("planlegge-utskrivning", ["sykehus", "kommunen", "familien", "kommunen"], "foresatt", "plo", ["kommunen"]),
    "orebro": (
        "identifiering",
        ["slutenvard", "kommun", "oppenvard", "patient"],
        "vardnadshavare",
        "inskrivningsmeddelande",
        ["kommun", "oppenvard"],
    ),
}


async def seed(store: Store, count: int, coordinators: int = 1) -> None:
    start = NOW - timedelta(days=20)
    async with store.transaction() as db:
        await remember_room(db, DM, "direct", "en", start)
        await people_rows.record_direct_room(db, COORDINATOR, DM, start)
        for n in range(count):
            pathway = "sthf" if n % 2 == 0 else "orebro"
            phase, lanes, guardian_lane, notice, receivers = TEAMS[pathway]
            room = f"!case{n}:bench"
            await remember_room(db, room, "case", "nb" if pathway == "sthf" else "sv", start)
            case_id = await cases.open_case(
                db,
                pathway_id=pathway,
                label=f"Case{n}",
                phase_id=phase,
                opened_by=COORDINATOR,
                opened_in=DM,
                create_outbox=-n - 1,
                now=start,
            )
            await cases.bind_room(db, -n - 1, room)
            coordinator = COORDINATOR if n % coordinators == 0 else f"@coord{n % coordinators}:bench"
            await cases.put_member(db, case_id, coordinator, None, True, coordinator, start)
            for k, lane in enumerate(lanes):
                await cases.put_member(db, case_id, f"@m{k}-{n}:bench", lane, False, COORDINATOR, start)
            await cases.put_member(db, case_id, f"@g-{n}:bench", guardian_lane, False, COORDINATOR, start)
            await cases.put_date(db, case_id, "admission", start + timedelta(days=n % 15), COORDINATOR, start)
            await cases.put_date(
                db, case_id, "discharge", (start + timedelta(days=25 + n % 10)).date(), COORDINATOR, start
            )
            await cases.mark_sent(db, case_id, notice, f"@m0-{n}:bench", start + timedelta(days=1), 0)
            await cases.add_ack(
                db, case_id, notice, Ack(receivers[0], f"@m1-{n}:bench", start + timedelta(days=2)), f"$a{n}"
            )
            consent = "dokumentasjon" if pathway == "sthf" else "informationsoverforing"
            await consents.add_answer(
                db, case_id, Answer(consent, f"@g-{n}:bench", "yes", start + timedelta(days=1)), f"$c{n}"
            )
            for k in range(40):
                await cases.audit(
                    db,
                    room_id=room,
                    actor=f"@m{k % 4}-{n}:bench",
                    action="status.read" if k % 3 else "item.acknowledged",
                    now=start + timedelta(hours=k * 7 + n % 24),
                    case_id=case_id,
                    actor_lane=lanes[k % 4],
                    item=notice,
                )


def _services(clock: FakeClock) -> Services:
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
    return Services(config=config, catalog=Catalog(), clock=clock, pathways=load_pathways(default_pathways_dir()))


async def measure(count: int, runs: int, coordinators: int = 1) -> dict[str, Any]:
    base = Path(tempfile.mkdtemp(prefix="homeward-bench-cases-"))
    store = await Store.open(base / "homeward.sqlite3")
    began = time.perf_counter()
    await seed(store, count, coordinators)
    seeding = time.perf_counter() - began
    clock = FakeClock(NOW)
    services = _services(clock)
    statements: list[str] = []
    await store._db.set_trace_callback(statements.append)
    figures: dict[str, Any] = {"cases": count, "seed_s": seeding}
    counter = 0
    for command in ("cases", "cases all", "digest"):
        timings, sql = [], []
        for run in range(runs + 2):
            counter += 1
            statements.clear()
            wall = time.perf_counter()
            await handle_command(
                IncomingCommand(
                    DM, f"$e{counter}", COORDINATOR, f"!{command}", 0, private=True, encrypted=True, room_encrypted=True
                ),
                store,
                services,
            )
            elapsed = (time.perf_counter() - wall) * 1000
            if run >= 2:  # two warm-ups
                timings.append(elapsed)
                sql.append(len(statements))
        async with store.read() as db:
            row = (await outbox.pending(db, limit=10_000))[-1]
            size = len(json.dumps(row.content))
            for pending in await outbox.pending(db, limit=10_000):
                await outbox.mark_sent(db, pending.id, "$x", NOW)
        figures[command] = {
            "p50": statistics.median(timings),
            "p95": percentile(timings, 95),
            "sql": statistics.median(sql),
            "bytes": size,
            "shown": len(row.content.get("homeward.cases") or row.content.get("homeward.digest") or []),
        }
    # The two halves of the handler, alone.
    reads, cares = [], []
    for _ in range(runs):
        async with store.read() as db:
            wall = time.perf_counter()
            found = await caseload_rows.cases_of(
                db, COORDINATOR, services.pathways, bot_id="@bot:bench", reading=READING_ACTIONS, closed=True
            )
            reads.append((time.perf_counter() - wall) * 1000)
        wall = time.perf_counter()
        for c in found:
            summarize(
                c.loaded.view,
                case_id=c.loaded.case.id,
                room_id=c.loaded.case.room_id or "",
                answers=c.answers,
                last_activity=c.last_activity,
                member=c.member,
                now=NOW,
                zone="Europe/Oslo",
            )
        cares.append((time.perf_counter() - wall) * 1000)
    figures["read"] = statistics.median(reads)
    figures["care"] = statistics.median(cares)
    figures["db_mb"] = (base / "homeward.sqlite3").stat().st_size / 1e6
    await store.close()
    return figures


async def main(counts: list[int], runs: int) -> None:
    header(
        "The coordinator's desk: !cases and !digest over many cases (bench/cases.py), no homeserver",
        f"{runs} per command after 2 warm-ups, one coordinator on every case",
    )
    rows = []
    for count, coordinators in [(c, 1) for c in counts] + [(max(counts), 20)]:
        f = await measure(count, runs, coordinators)
        mine = count // coordinators
        name = f"{count:,} cases" + (f", {mine} of them the coordinator's" if coordinators > 1 else "")
        for command in ("cases", "cases all", "digest"):
            c = f[command]
            rows.append(
                (
                    f"{name}, `!{command}`",
                    f"{c['p50']:.0f}",
                    f"{c['p95']:.0f}",
                    f"{c['sql']:.0f}",
                    f"{c['shown']}",
                    f"{c['bytes'] / 1000:.1f}",
                )
            )
        print(
            f"{name}: seeded in {f['seed_s']:.1f} s, store {f['db_mb']:.1f} MB; the one read "
            f"(store.caseload.cases_of) {f['read']:.0f} ms, the care logic's summaries {f['care']:.0f} ms (medians)"
        )
    print()
    table(rows, ("answer", "p50 ms", "p95 ms", "SQL statements", "cases in the answer", "answer kB"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, nargs="+", default=[50, 1000])
    parser.add_argument("--runs", type=int, default=20)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.cases, arguments.runs))
