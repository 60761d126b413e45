"""How long the pictures take: `!timeline` of a case with 127 items, `!stats` over 1,000 cases.

    .venv/bin/python bench/pictures.py [--runs 10] [--cases 1000]
    .venv/bin/python bench/pictures.py --readme docs      # (re)draws docs/timeline.png and docs/stats.png

No homeserver. The timeline: bench/exports.py's big Örebro case (27 pathway items and 100
tasks added as the minutes add them), with two phases behind it and the payment clock
running; timed as the handler does it — the layout (`care.timeline`) on the event loop,
the drawing (`exports.timeline`) in a worker thread (`asyncio.to_thread`). The statistics:
a fresh store with `--cases` Örebro cases written with the store's own functions (dates,
notices sent and acknowledged, tasks done, phase changes and closings in the audit trail),
all coordinated by one person; timed as `!stats` does it — the one read
(`store.cases.coordinated_case_rows`) on the loop; turning the rows into cases, counting,
drawing and the CSV in a worker thread. Meanwhile a ticker on the event loop measures its
longest pause, which is how long the bot would answer nothing else. Each is run once cold
(first call in the process: fonts and matplotlib load) and then `--runs` times.

`--readme DIR` draws the two pictures the README shows, from demo data made here: one
Örebro case in its second week and 60 cases for the numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from common import ROOT, header, median, table

from homeward.care.case import Ack, CaseView, ExtraTask, GivenReason, ItemRecord, Membership
from homeward.care.clocks import read_clocks
from homeward.care.pathway import Item, Pathway, default_pathways_dir, load_pathways
from homeward.care.stats import CaseFacts, pathway_stats
from homeward.care.timeline import timeline_layout
from homeward.commands.handlers.pictures import make_stats
from homeward.exports.stats import draw_stats, draw_waits
from homeward.exports.timeline import draw_timeline
from homeward.store import cases, delays
from homeward.store.db import Store

STOCKHOLM = ZoneInfo("Europe/Stockholm")
CORA = "@samordnare:region.example"


def _export_bench():
    """bench/exports.py, whose big case this measures too (its name would clash with the `exports` folder)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_exports", ROOT / "bench" / "exports.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- demo data ----------------------------------------------------------------------------------
def demo_case(pathway: Pathway) -> tuple[CaseView, list[tuple[str, datetime]], datetime]:
    """An Örebro case in its planning phase: notices sent, the SIP summons late, the payment clock past its limit."""

    def t(day: int, hour: int = 9, minute: int = 0) -> datetime:
        if day <= 30:
            return datetime(2026, 11, day, hour, minute, tzinfo=STOCKHOLM)
        return datetime(2026, 12, day - 30, hour, minute, tzinfo=STOCKHOLM)

    now = t(38, 11)  # 8 December
    people = {
        CORA: Membership(CORA, "oppenvard", True),
        "@sara:x": Membership("@sara:x", "slutenvard", False),
        "@karl:x": Membership("@karl:x", "kommun", False),
        "@pia:x": Membership("@pia:x", "patient", False),
    }
    view = CaseView(
        pathway=pathway,
        label="Sjostjerne",
        phase_id="planering",
        dates={
            "admission": t(16, 10),
            "discharge": date(2026, 12, 11),
            "sip_meeting": t(37, 10),
            "followup": date(2027, 1, 15),
        },
        members=people,
        records={},
    )
    records = view.records
    records["inskrivning"] = ItemRecord(acks=[Ack("patient", "@pia:x", t(16, 11))])
    records["inskrivningsmeddelande"] = ItemRecord(
        sent_at=t(16, 14), acks=[Ack("kommun", "@karl:x", t(17, 9)), Ack("oppenvard", CORA, t(17, 10))]
    )
    records["generellt-meddelande"] = ItemRecord(sent_at=t(17, 13), acks=[Ack("kommun", "@karl:x", t(18, 15))])
    records["kontaktperson-kommun"] = ItemRecord(acks=[Ack("kommun", "@karl:x", t(18, 16))])
    records["bedoma-utskrivningsklar"] = ItemRecord(acks=[Ack("slutenvard", "@sara:x", t(30, 9))])
    records["utskrivningsklarmeddelande"] = ItemRecord(
        sent_at=t(30, 10), acks=[Ack("kommun", "@karl:x", t(30, 15)), Ack("oppenvard", CORA, t(31, 8))]
    )
    records["kallelse-sip"] = ItemRecord(sent_at=t(34, 11), acks=[Ack("kommun", "@karl:x", t(34, 14))])
    actions = [
        ("kommun", "Hjälpmedel: beställ säng och lyft", t(40, 16)),
        ("oppenvard", "Läkemedelslista till familjen", t(36, 16)),
        ("kommun", "Avlösning: ansökan till LSS", t(39, 16)),
        ("slutenvard", "Träna sondmatning med föräldrarna", t(37, 16)),
        ("oppenvard", "Boka uppföljning hemsjukvård", t(45, 16)),
    ]
    for n, (lane, text, due) in enumerate(actions, 1):
        item_id = f"sip-meeting-a{n}"
        view.extra[item_id] = ExtraTask(
            Item(id=item_id, kind="task", title=text, text=text, mandatory=False, lane=lane),
            "planering" if n < 4 else "utskrivning",
            due,
        )
    records["sip-meeting-a4"] = ItemRecord(acks=[Ack("slutenvard", "@sara:x", t(37, 12))])
    # Why two steps are late, as their lanes said: the summons waited for the family, the medicines list for a
    # prescription.
    for item_id, lane, word in (
        ("kallelse-sip", "oppenvard", "familjen"),
        ("sip-meeting-a2", "oppenvard", "lakemedel"),
    ):
        reason = pathway.reason(word)
        view.reasons[(item_id, lane)] = GivenReason(item_id, lane, reason.id, reason.code, CORA, t(37, 9))
    history = [("identifiering", t(16, 10)), ("planering", t(19, 11))]
    return view, history, now


def demo_facts(pathway: Pathway, count: int, seed: int = 16) -> list[CaseFacts]:
    """`count` Örebro cases with plausible, varied durations (deterministic)."""
    rng = random.Random(seed)
    why = random.Random(seed + 1)  # the reasons have their own stream: the durations stay as they were
    base = datetime(2026, 1, 5, 9, tzinfo=STOCKHOLM)
    found = []
    for n in range(count):
        opened = base + timedelta(hours=n * 6 + rng.randrange(0, 5))
        admitted = opened + timedelta(hours=1)
        view = CaseView(
            pathway=pathway,
            label=f"case-{n}",
            phase_id="planering",
            dates={"admission": admitted},
            members={CORA: Membership(CORA, None, True)},
            records={},
        )
        planning = opened + timedelta(days=rng.uniform(1, 6))
        discharge_phase = planning + timedelta(days=rng.uniform(2, 12))
        follow = discharge_phase + timedelta(days=rng.uniform(1, 6))
        phases = [
            ("identifiering", opened),
            ("planering", planning),
            ("utskrivning", discharge_phase),
            ("uppfoljning", follow),
        ]
        sent = admitted + timedelta(hours=rng.uniform(1, 40))
        view.records["inskrivningsmeddelande"] = ItemRecord(
            sent_at=sent,
            acks=[
                Ack("kommun", "@k:x", sent + timedelta(hours=rng.uniform(1, 48))),
                Ack("oppenvard", "@o:x", sent + timedelta(hours=rng.uniform(1, 30))),
            ],
        )
        ready = planning + timedelta(days=rng.uniform(0.5, 5))
        view.records["utskrivningsklarmeddelande"] = ItemRecord(
            sent_at=ready,
            acks=[
                Ack("kommun", "@k:x", ready + timedelta(hours=rng.uniform(1, 30))),
                Ack("oppenvard", "@o:x", ready + timedelta(hours=rng.uniform(1, 20))),
            ],
        )
        view.records["kallelse-sip"] = ItemRecord(sent_at=ready + timedelta(days=rng.uniform(0.2, 4.5)))
        gone = ready + timedelta(days=rng.choice([0.5, 1, 2, 2, 3, 4, 5, 6, 9]))
        view.records["utskrivningsmeddelande"] = ItemRecord(
            sent_at=gone, acks=[Ack("kommun", "@k:x", gone + timedelta(hours=rng.uniform(1, 20)))]
        )
        # The other receiving lanes acknowledge too, some of them late (their own stream: the rest stays as it was).
        summons = view.records["kallelse-sip"]
        assert summons.sent_at is not None
        summons.acks.append(Ack("kommun", "@k:x", summons.sent_at + timedelta(hours=why.uniform(2, 60))))
        view.records["utskrivningsmeddelande"].acks.append(
            Ack("oppenvard", "@o:x", gone + timedelta(hours=why.uniform(2, 50)))
        )
        view.dates["discharge"] = gone.date()
        _demo_reasons(view, why)
        closings = []
        if rng.random() < 0.8:
            closed = follow + timedelta(days=rng.uniform(3, 20))
            closings.append(("closed", closed))
            if rng.random() < 0.1:
                closings.append(("reopened", closed + timedelta(days=rng.uniform(2, 25))))
        found.append(CaseFacts(view, opened, phases, closings))
    return found


#: Which reasons each lane gives in the demo, with weights: equipment and staff for the municipality…
DEMO_REASONS = {
    "kommun": [("personal", 5), ("hjalpmedel", 4), ("beslut", 3), ("bostad", 1), ("annat", 1)],
    "oppenvard": [("information", 3), ("familjen", 2), ("personal", 1)],
    "slutenvard": [("information", 2), ("lakemedel", 2), ("annat", 1)],
}
DEMO_LATE = [
    ("inskrivningsmeddelande", "kommun"),
    ("inskrivningsmeddelande", "oppenvard"),
    ("inskrivningsmeddelande", "slutenvard"),
    ("utskrivningsklarmeddelande", "kommun"),
    ("utskrivningsklarmeddelande", "oppenvard"),
    ("kallelse-sip", "oppenvard"),
    ("utskrivningsmeddelande", "kommun"),
]


def _demo_reasons(view: CaseView, why: random.Random) -> None:
    """Three in four lanes say why they were late (a reason for a step that was not late is never read)."""
    for item_id, lane in DEMO_LATE:
        if why.random() < 0.75:
            words, weights = zip(*DEMO_REASONS[lane], strict=True)
            reason = view.pathway.reason(why.choices(words, weights)[0])
            at = datetime(2026, 1, 1, tzinfo=STOCKHOLM)
            view.reasons[(item_id, lane)] = GivenReason(item_id, lane, reason.id, reason.code, "@x:x", at)


async def store_with_cases(path: Path, pathway: Pathway, count: int) -> Store:
    """A store with `count` of the demo cases, written as the bot writes them."""
    store = await Store.open(path)
    async with store.transaction() as db:
        await write_cases(db, pathway, demo_facts(pathway, count, seed=1000), CORA)
    return store


async def write_cases(db, pathway: Pathway, found: list[CaseFacts], coordinator: str, prefix: str = "room") -> None:
    """Demo cases into a store, as the bot writes them, coordinated by `coordinator`: their dates, notices,
    acknowledgements, the reasons lanes gave, phase changes and closings (rooms `!<prefix>-n:x`, never created)."""
    for n, facts in enumerate(found):
        view = facts.view
        room = f"!{prefix}-{n}:x"
        outbox_row = -(n + 1)  # no real outbox row creates these rooms
        case_id = await cases.open_case(
            db,
            pathway_id=pathway.id,
            label=view.label,
            phase_id=facts.phases[-1][0],
            opened_by=coordinator,
            opened_in="!dm:x",
            create_outbox=outbox_row,
            now=facts.opened_at,
        )
        await cases.bind_room(db, outbox_row, room)
        await cases.put_member(db, case_id, coordinator, None, True, coordinator, facts.opened_at)
        for date_id, value in view.dates.items():
            await cases.put_date(db, case_id, date_id, value, coordinator, facts.opened_at)
        for item_id, record in view.records.items():
            if record.sent_at:
                await cases.mark_sent(db, case_id, item_id, coordinator, record.sent_at, 0)
            for k, ack in enumerate(record.acks):
                await cases.add_ack(db, case_id, item_id, ack, f"$ack-{n}-{item_id}-{k}")
        for given in view.reasons.values():
            await delays.add_reason(db, case_id, given, None)
        for (previous, _), (phase, at) in itertools.pairwise(facts.phases):
            await cases.audit(
                db,
                room_id=room,
                actor=coordinator,
                action="phase.changed",
                now=at,
                case_id=case_id,
                previous=previous,
                phase=phase,
                forced=False,
            )
        for what, at in facts.closings:
            await cases.audit(db, room_id=room, actor=coordinator, action=f"case.{what}", now=at, case_id=case_id)


# --- timing ----------------------------------------------------------------------------------------
async def _with_ticker(work):
    """Run `work()` (a coroutine function) while a 5 ms ticker on the loop records its longest pause.

    Returns (result, ms, pause ms).
    """
    longest = 0.0
    running = True

    async def tick() -> None:
        nonlocal longest
        last = time.perf_counter()
        while running:
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            longest = max(longest, now - last - 0.005)
            last = now

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0.02)
    t0 = time.perf_counter()
    result = await work()
    elapsed = (time.perf_counter() - t0) * 1000
    running = False
    await ticker
    return result, elapsed, longest * 1000


async def bench(runs: int, count: int) -> None:
    pathway = load_pathways(default_pathways_dir())["orebro"]
    export_bench = _export_bench()
    BIG_NOW = export_bench.NOW
    big = export_bench.big_case(pathway)
    big.records["utskrivningsklarmeddelande"] = ItemRecord(sent_at=BIG_NOW - timedelta(days=5))
    history = [("identifiering", BIG_NOW - timedelta(days=21)), ("planering", BIG_NOW - timedelta(days=9))]

    async def timeline():
        layout = timeline_layout(big, BIG_NOW, history, read_clocks(big, BIG_NOW))
        return layout, await asyncio.to_thread(draw_timeline, layout)

    timeline_runs = [await _with_ticker(timeline) for _ in range(runs + 1)]
    layout, picture = timeline_runs[0][0]

    with tempfile.TemporaryDirectory() as folder:
        t0 = time.perf_counter()
        store = await store_with_cases(Path(folder) / "bench.sqlite3", pathway, count)
        built = time.perf_counter() - t0
        now = datetime(2027, 3, 1, 9, tzinfo=STOCKHOLM)
        pathways = {pathway.id: pathway}
        reads: list[float] = []

        async def stats():
            t1 = time.perf_counter()
            async with store.read() as db:
                rows = await cases.coordinated_case_rows(db, CORA)
            reads.append((time.perf_counter() - t1) * 1000)
            return await asyncio.to_thread(make_stats, pathway, rows, pathways, now, None, None)

        stats_runs = [await _with_ticker(stats) for _ in range(runs + 1)]
        await store.close()
    figures, chart, csv_bytes, _waits = stats_runs[0][0]

    header("Homeward pictures (bench/pictures.py)", f"1 cold (first in the process) + {runs} warm each; one process")
    print(
        f"timeline: Örebro case with {len(big.items())} items ({len(layout.marks)} with a due time), "
        f"PNG {picture.width}×{picture.height} px, {len(picture.png) / 1024:.0f} KiB (thumbnail "
        f"{picture.thumbnail_width}×{picture.thumbnail_height}, {len(picture.thumbnail) / 1024:.0f} KiB)"
    )
    print(
        f"stats: {figures.cases} cases in the store (written in {built:.1f} s), one read of "
        f"{median(reads[1:]):.0f} ms median; chart {chart.width}×{chart.height} px, CSV {len(csv_bytes)} bytes"
    )
    print()
    rows = []
    for name, found in (
        ("!timeline (127 items): layout + drawing", timeline_runs),
        (f"!stats ({count} cases): read + count + chart + CSV", stats_runs),
    ):
        warm = [ms for _, ms, _ in found[1:]]
        pauses = [pause for _, _, pause in found]
        rows.append(
            (
                name,
                f"{found[0][1]:.0f}",
                f"{median(warm):.0f}",
                f"{max(warm):.0f}",
                f"{median(pauses):.0f} / {max(pauses):.0f}",
            )
        )
    table(rows, ("what", "cold ms", f"median ms (of {runs})", "worst ms", "event-loop pause ms (median / worst)"))


def readme(folder: Path) -> None:
    """The README's two pictures, from the demo data."""
    pathway = load_pathways(default_pathways_dir())["orebro"]
    folder.mkdir(parents=True, exist_ok=True)
    view, history, now = demo_case(pathway)
    picture = draw_timeline(timeline_layout(view, now, history, read_clocks(view, now)))
    (folder / "timeline.png").write_bytes(picture.png)
    figures = pathway_stats(pathway, demo_facts(pathway, 60), datetime(2026, 6, 1, 9, tzinfo=STOCKHOLM))
    (folder / "stats.png").write_bytes(draw_stats(figures).png)
    (folder / "waits.png").write_bytes(draw_waits(figures).png)
    print(f"wrote {folder / 'timeline.png'}, {folder / 'stats.png'} and {folder / 'waits.png'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="warm runs after the first (cold) one")
    parser.add_argument("--cases", type=int, default=1000, help="cases in the store for !stats")
    parser.add_argument("--readme", type=Path, help="draw the README's pictures into this folder and stop")
    args = parser.parse_args()
    if args.readme:
        readme(args.readme)
        return
    asyncio.run(bench(args.runs, args.cases))


if __name__ == "__main__":
    main()
