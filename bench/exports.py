"""How long the plan exports take for a big case: 20 goals, 100 plan actions, 100 added tasks.

    .venv/bin/python bench/exports.py [--runs 10]

No homeserver: the case is built with the care logic itself (`care.careplan` operations folded
into a `CarePlan`, a `CaseView` of the Örebro pathway with 100 tasks added as the minutes
add them, members, consent answers, meetings), snapshotted with `exports.build.careplan_document`
— what `!export plan <format>` does after loading the case — and rendered with the same
functions the handler calls. Each format is timed with `time.perf_counter`: the first call
in this fresh process (cold: WeasyPrint and its fonts load on the first PDF) and then the
median and worst of `--runs` more. The handler renders inside the command's transaction on
the event loop, so these times are also how long the bot answers nothing else.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from common import header, median, table

from homeward.care.careplan import (
    CarePlan,
    CarePlanChange,
    add_action,
    add_goal,
    add_subgoal,
    apply_careplan,
    set_followup,
    set_responsible,
)
from homeward.care.case import Ack, CaseView, ExtraTask, ItemRecord, Membership
from homeward.care.consent import Answer
from homeward.care.minutes import fold_minutes, new_minutes
from homeward.care.pathway import Item, Pathway, default_pathways_dir, load_pathways
from homeward.exports.build import careplan_document
from homeward.exports.document import CarePlanDocument

GOALS = 20
SUBGOALS_PER_GOAL = 2
ACTIONS_PER_GOAL = 5  # 100 plan actions
EXTRA_TASKS = 100
STOCKHOLM = ZoneInfo("Europe/Stockholm")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=STOCKHOLM)
CORA = "@samordnare:region.example"
LANES = ("slutenvard", "oppenvard", "kommun", "vardnadshavare")


def members() -> dict[str, Membership]:
    people = [Membership(CORA, "oppenvard", True)]
    for n, lane in enumerate(LANES * 3):
        people.append(Membership(f"@person-{n:02d}:region.example", lane, False))
    return {m.user_id: m for m in people}


def big_plan(pathway: Pathway) -> CarePlan:
    """20 goals, each with 2 sub-goals and 5 actions (owners and periods), the responsible lane and a follow-up."""
    plan = CarePlan()
    at = NOW - timedelta(days=30)

    def step(change: Callable[..., CarePlanChange], *args: Any, **kwargs: Any) -> None:
        """Apply `change(plan, *args, by=CORA, at=…, **kwargs)`, three minutes after the change before."""
        nonlocal plan, at
        at += timedelta(minutes=3)
        plan = apply_careplan(plan, change(plan, *args, by=CORA, at=at, **kwargs))

    for g in range(1, GOALS + 1):
        step(
            add_goal,
            f"Mål {g}: barnet och familjen klarar vardagen hemma med stöd kring nutrition, "
            f"andning och sömn, och vet vem de ringer när något förändras ({g}).",
        )
        for s in range(1, SUBGOALS_PER_GOAL + 1):
            step(
                add_subgoal,
                g,
                f"Delmål {g}.{s}: vårdnadshavarna sköter hjälpmedlen säkert och följer vikten varje vecka.",
            )
        for a in range(1, ACTIONS_PER_GOAL + 1):
            start = date(2026, 12, 1) + timedelta(days=g + a)
            step(
                add_action,
                pathway,
                g,
                f"Insats {g}.{a}: utbildning, uppföljning och samordning med "
                f"kommunens kontaktperson och hemsjukvården.",
                LANES[(g + a) % len(LANES)],
                start=start,
                end=start + timedelta(days=14),
            )
    step(set_responsible, pathway, "oppenvard")
    step(set_followup, date(2027, 3, 1))
    return plan


def big_case(pathway) -> CaseView:
    """The Örebro pathway with 100 added tasks (as the minutes' actions add them), a third of them done."""
    extra: dict[str, ExtraTask] = {}
    records: dict[str, ItemRecord] = {}
    people = members()
    phases = [phase.id for phase in pathway.phases]
    for n in range(EXTRA_TASKS):
        lane = LANES[n % len(LANES)]
        item_id = f"sip-meeting-a{n + 1}"
        text = f"Åtgärd {n + 1} från SIP-mötet: boka hjälpmedelsutprovning och meddela familjen datum och tid."
        item = Item(id=item_id, kind="task", title=text[:120], text=text, mandatory=False, lane=lane)
        extra[item_id] = ExtraTask(item, phases[n % len(phases)], NOW + timedelta(days=n % 40))
        if n % 3 == 0:
            doer = next(m.user_id for m in people.values() if m.lane == lane)
            records[item_id] = ItemRecord(acks=[Ack(lane, doer, NOW - timedelta(hours=n))])
    return CaseView(
        pathway=pathway,
        label="orebro-bench",
        phase_id=phases[1],
        dates={"admission": date(2026, 11, 2), "discharge": date(2026, 12, 14)},
        members=people,
        records=records,
        extra=extra,
    )


def snapshot() -> CarePlanDocument:
    pathway = load_pathways(default_pathways_dir())["orebro"]
    view = big_case(pathway)
    plan = big_plan(pathway)
    guardian = next(u for u, m in view.members.items() if m.lane == "vardnadshavare")
    answers = [Answer(c.id, guardian, "yes", NOW - timedelta(days=20)) for c in pathway.consents]
    minutes = {}
    for n, meeting in enumerate(pathway.meetings):
        change = new_minutes(
            pathway, meeting.id, NOW + timedelta(days=7 * n, hours=1), timedelta(minutes=90), by=CORA, at=NOW
        )
        minutes[meeting.id] = fold_minutes([change])
    return careplan_document(view, plan, answers, minutes, NOW, CORA)


def timed(render: Callable[[], bytes], runs: int) -> tuple[float, list[float], int]:
    t0 = time.perf_counter()
    data = render()
    cold = (time.perf_counter() - t0) * 1000
    warm = []
    for _ in range(runs):
        t0 = time.perf_counter()
        render()
        warm.append((time.perf_counter() - t0) * 1000)
    return cold, warm, len(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="warm runs per format after the first (cold) one")
    runs = parser.parse_args().runs

    import warnings

    warnings.filterwarnings("ignore", message="HarfBuzz-Subset")  # WeasyPrint's fontTools fallback
    t0 = time.perf_counter()
    doc = snapshot()
    build_ms = (time.perf_counter() - t0) * 1000

    from homeward.exports.fhir import to_fhir_bundle
    from homeward.exports.ics import to_ics
    from homeward.exports.render import render_html, render_markdown, render_pdf

    formats: list[tuple[str, Callable[[], bytes]]] = [
        # the PDF first: its cold figure includes loading WeasyPrint (Pango, fonts), as the bot's first export does
        ("PDF (WeasyPrint)", lambda: render_pdf(doc)),
        # as commands/handlers/export.py makes the file: the bundle and its JSON text
        (
            "FHIR R4 bundle (JSON)",
            lambda: json.dumps(to_fhir_bundle(doc), ensure_ascii=False, indent=2).encode("utf-8"),
        ),
        ("HTML", lambda: render_html(doc).encode("utf-8")),
        ("Markdown", lambda: render_markdown(doc).encode("utf-8")),
        ("iCalendar", lambda: to_ics(doc)),
    ]
    results = [(name, *timed(render, runs)) for name, render in formats]

    pages = "?"
    try:
        import io

        from pypdf import PdfReader

        pages = str(len(PdfReader(io.BytesIO(render_pdf(doc))).pages))
    except ImportError:
        pass

    header(
        "Homeward plan exports of a big case (bench/exports.py)",
        f"1 cold (first call in the process) + {runs} warm per format; one process",
    )
    print(
        f"case: Örebro pathway ({len(doc.items) - EXTRA_TASKS} items) + {EXTRA_TASKS} added tasks "
        f"= {len(doc.items)} items; "
        f"plan of {len(doc.goals)} goals, {sum(len(g.subgoals) for g in doc.goals)} sub-goals, "
        f"{sum(len(g.actions) for g in doc.goals)} actions; {len(doc.participants)} participants; PDF {pages} pages"
    )
    print(f"snapshot (care objects -> CarePlanDocument, with pathway loading and plan folding): {build_ms:.0f} ms")
    print()
    rows = [
        (name, f"{cold:.0f}", f"{median(warm):.0f}", f"{max(warm):.0f}", f"{size / 1024:.0f}")
        for name, cold, warm, size in results
    ]
    table(rows, ("format", "cold ms", f"median ms (of {runs})", "worst ms", "size KiB"))


if __name__ == "__main__":
    main()
