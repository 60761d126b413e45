"""Pictures: `!timeline` (a care room's case as a picture) and `!stats` (a coordinator's pathway numbers).

Both draw with matplotlib in a worker thread (`asyncio.to_thread`), like `!export`'s PDF, so
the sync loop and the decryption of incoming events go on meanwhile, and post the PNG as an
encrypted `m.image` with a thumbnail through the outbox. The answer carries what the
picture shows as data (`homeward.timeline`, `homeward.stats`), so nothing is only in pixels.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from homeward.care.case import GivenReason
from homeward.care.clocks import read_clocks
from homeward.care.pathway import Pathway, pathway_file
from homeward.care.permissions import ANYONE, MEMBER
from homeward.care.refusal import Refusal
from homeward.care.review import ClosedCase, pathway_diff, pathway_review, pathway_review_json, propose
from homeward.care.stats import (
    SUPPRESSED,
    CaseFacts,
    PathwayStats,
    closed_time,
    in_period,
    pathway_stats,
    sets_apart,
    stats_json,
)
from homeward.care.timeline import timeline_json, timeline_layout
from homeward.commands.arguments import ISO_DATE, date_arg, pathway_arg
from homeward.commands.context import Context, Reply
from homeward.commands.registry import ANY_STATE, CASE_ROOM, PRIVATE_CHAT, Arg, CommandError, Section, command
from homeward.messages.review import stats_review_markdown
from homeward.store import cases, delays, outbox, stats_answers
from homeward.text import Markdown, code, code_block
from homeward.work.care_room import closed_at

if TYPE_CHECKING:
    from homeward.exports.picture import Picture

PNG = "image/png"


def image_parts(picture: Picture) -> outbox.ImageParts:
    return outbox.ImageParts(
        picture.width, picture.height, picture.thumbnail, picture.thumbnail_width, picture.thumbnail_height
    )


def picture_json(picture: Picture) -> dict[str, Any]:
    """How the posted image can be recognised and checked: its size, as announced, and its hash."""
    return {
        "w": picture.width,
        "h": picture.height,
        "size": len(picture.png),
        "sha256": hashlib.sha256(picture.png).hexdigest(),
    }


@command(
    "timeline", where=CASE_ROOM, rule=MEMBER, state=ANY_STATE, help_section=Section.DATES
)  # a closed case's timeline ends at its closing
async def timeline(ctx: Context) -> Reply:
    """Post the case as a picture: phases, dates, every item with a due time by state, the clocks, today."""
    room = ctx.care
    case, view = room.case, room.view
    closed = closed_at(case)
    history = await cases.phase_history(ctx.db, case.id)
    layout = timeline_layout(view, ctx.now, history, read_clocks(view, ctx.now, closed_at=closed), closed_at=closed)
    shown = timeline_json(layout)
    if layout.empty:
        await room.audit("timeline.made", empty=True)
        return ctx.ok(ctx.t("timeline.nothing_planned"), timeline=shown)
    from homeward.exports.timeline import draw_timeline  # matplotlib loads on the first picture, not at start-up

    picture = await asyncio.to_thread(draw_timeline, layout)  # a big case takes a moment: off the event loop
    image = picture_json(picture)
    day = ctx.now.astimezone(ZoneInfo(view.pathway.timezone))
    name = f"timeline-{case.label}-{day:%Y%m%d-%H%M}.png"
    await room.queue_file(name, PNG, picture.png, image=image_parts(picture), picture={"kind": "timeline", **image})
    await room.audit("timeline.made", items=len(layout.marks), sha256=image["sha256"])
    counts = layout.counts
    text = ctx.t(
        "timeline.posted",
        label=case.label,
        items=ctx.t("timeline.count_items", n=len(layout.marks)),
        overdue=ctx.t("timeline.count_overdue", n=counts.get("overdue", 0)),
        late=ctx.t("timeline.count_late", n=counts.get("done_late", 0)),
        dates=ctx.t("timeline.count_dates", n=len(layout.markers)),
        clocks=ctx.t("timeline.count_clocks", n=len(layout.clocks)),
        name=code(name),
    )
    return ctx.ok(text, timeline={**shown, "image": image})


@command(
    "stats",
    args=[
        Arg("pathway", optional=True),
        Arg("from", optional=True, metavar="YYYY-MM-DD"),
        Arg("to", optional=True, metavar="YYYY-MM-DD"),
    ],
    # The figures are in the answer too (`homeward.stats`): only where nobody but the sender reads it,
    # end-to-end encrypted (issue 23: in a clear-text room every figure went out in clear).
    where=PRIVATE_CHAT,
    rule=ANYONE,  # anyone may ask; the figures are over the cases the sender coordinates, and none for nobody
    help_section=Section.DOCUMENTS,
)
async def stats(ctx: Context) -> Reply:
    """The pathway's numbers over the cases you coordinate (opened from–to): one chart and a CSV, aggregates only."""
    chosen, since, until, rows = await _scope(ctx, "stats")
    pathways = ctx.services.pathways
    reasons = await delays.reasons_of_cases(ctx.db, [row["id"] for row in rows])
    # A thousand cases take a moment to read, count and draw: in a worker thread, off the event loop.
    answered = await stats_answers.answered(ctx.db, chosen.id)
    figures, picture, table, waits = await asyncio.to_thread(
        make_stats, chosen, rows, pathways, ctx.now, since, until, reasons, answered
    )
    # Across answers: one that, set beside those already given, singles out fewer than five cases is refused.
    if figures.set_apart is not None:
        raise Refusal("suppression.sets_apart", pathway=chosen.title)
    if not figures.suppressed:
        await stats_answers.record(ctx.db, chosen.id, ctx.sender, figures.case_ids, ctx.now)
    summary = stats_json(figures)
    image = picture_json(picture)
    stamp = ctx.now.astimezone(ZoneInfo(chosen.timezone))
    base = f"stats-{chosen.id}-{stamp:%Y%m%d}"
    await outbox.enqueue_file(
        ctx.db,
        ctx.room_id,
        base + ".png",
        PNG,
        picture.png,
        ctx.now,
        image=image_parts(picture),
        encrypted_only=True,
        picture={"kind": "stats", **image},
    )
    waits_image = picture_json(waits)
    await outbox.enqueue_file(
        ctx.db,
        ctx.room_id,
        base + "-waits.png",
        PNG,
        waits.png,
        ctx.now,
        image=image_parts(waits),
        encrypted_only=True,
        picture={"kind": "waits", **waits_image},
    )
    await outbox.enqueue_file(
        ctx.db,
        ctx.room_id,
        base + ".csv",
        "text/csv",
        table,
        ctx.now,
        encrypted_only=True,
        stats_csv={"pathway": chosen.id, "sha256": hashlib.sha256(table).hexdigest()},
    )
    await ctx.audit("stats.made", pathway=chosen.id, cases=summary["cases"], since=summary["from"], until=summary["to"])
    key = "stats.made_few" if figures.suppressed else "stats.made"
    text = ctx.t(
        key,
        pathway=chosen.title,
        cases=SUPPRESSED if figures.suppressed else figures.cases,
        period=_period(ctx, since, until),
        name=code(base + ".csv"),
    )
    return ctx.ok(text, stats={**summary, "image": image, "waits_image": waits_image})


async def _scope(ctx: Context, name: str) -> tuple[Pathway, date | None, date | None, list]:
    """`[pathway] [from] [to]` of `!stats` and `!stats review`: the pathway, the dates, the sender's cases' rows."""
    words = [value for value in (ctx.args["pathway"], ctx.args["from"], ctx.args["to"]) if value]
    chosen: Pathway | None = None
    if words and not ISO_DATE.match(words[0]):
        chosen = pathway_arg(words.pop(0), ctx)
    if len(words) > 2:
        raise CommandError("error.too_many_arguments", usage=True, extra=words[2][:40])
    days: list[date] = [date_arg(word, ctx) for word in words]
    since, until = [*days, None, None][:2]
    if since and until and since > until:
        raise CommandError("stats.from_after_to", usage=True, since=since.isoformat(), until=until.isoformat())
    pathways = ctx.services.pathways
    rows = await cases.coordinated_case_rows(ctx.db, ctx.sender, chosen.id if chosen else None)
    followed = sorted({row["pathway_id"] for row in rows if row["pathway_id"] in pathways})
    if not followed:
        raise CommandError("stats.no_cases")
    if chosen is None:
        if len(followed) > 1:
            raise CommandError(
                "stats.which_pathway", pathways=Markdown(", ".join(code(f"!{name} {p}") for p in followed))
            )
        chosen = pathways[followed[0]]
    return chosen, since, until, rows


@command(
    "stats review",
    args=[
        Arg("pathway", optional=True),
        Arg("from", optional=True, metavar="YYYY-MM-DD"),
        Arg("to", optional=True, metavar="YYYY-MM-DD"),
    ],
    where=PRIVATE_CHAT,  # figures, as `!stats`: only where nobody but the sender reads them
    rule=ANYONE,  # over the closed cases the sender coordinates, and nothing about fewer than five
    help_section=Section.DOCUMENTS,
)
async def stats_review(ctx: Context) -> Reply:
    """The steps most often late in the closed cases you coordinate (opened from–to), and why; a proposed change
    to the pathway file as a diff for its owners (never applied)."""
    chosen, since, until, rows = await _scope(ctx, "stats review")
    pathways = ctx.services.pathways
    reasons = await delays.reasons_of_cases(ctx.db, [row["id"] for row in rows])
    histories = cases.case_histories(rows, pathways)
    closed = []
    counted: set[int] = set()
    for history in histories:
        history.loaded.view.reasons = reasons.get(history.loaded.case.id, {})
        facts = CaseFacts(history.loaded.view, history.opened_at, history.phases, history.closings)
        closing = closed_time(facts)
        if closing is not None and in_period(facts, since, until):
            closed.append(ClosedCase(history.loaded.view, closing))
            counted.add(history.loaded.case.id)
    # Issue 23's rule across answers holds for the review's figures too (how late, in how many cases, why):
    # set beside the answers already given on the pathway (`!stats` and `!stats review` alike), one that
    # singles out fewer than five cases is refused.
    if sets_apart(await stats_answers.answered(ctx.db, chosen.id), frozenset(counted)) is not None:
        raise Refusal("suppression.sets_apart", pathway=chosen.title)
    zone = ZoneInfo(chosen.timezone)
    today = ctx.now.astimezone(zone).date()
    review = pathway_review(chosen, closed, today)
    if not review.suppressed:
        await stats_answers.record(ctx.db, chosen.id, ctx.sender, frozenset(counted), ctx.now)
    proposals = [step.proposal for step in review.steps if step.proposal is not None] if not review.suppressed else []
    diff = ""
    if proposals:
        path = pathway_file(chosen.id, ctx.services.config.pathways_dir)
        before = path.read_text(encoding="utf-8")
        diff = pathway_diff(chosen.id, before, propose(before, proposals))
    name = f"review-{chosen.id}-{today:%Y%m%d}.diff" if diff else None
    if name is not None:
        await outbox.enqueue_file(
            ctx.db,
            ctx.room_id,
            name,
            "text/x-diff",
            diff.encode("utf-8"),
            ctx.now,
            encrypted_only=True,
            review_diff={"pathway": chosen.id, "sha256": hashlib.sha256(diff.encode("utf-8")).hexdigest()},
        )
    text = stats_review_markdown(ctx, review, _period(ctx, since, until), name, ctx.language)
    if diff and diff.count("\n") <= DIFF_SHOWN_LINES:
        text += "\n\n" + ctx.t("review.stats_diff") + "\n\n" + code_block(diff, "diff")
    shown = pathway_review_json(review)
    await ctx.audit("stats.reviewed", pathway=chosen.id, cases=shown["cases"], proposals=len(proposals))
    return ctx.ok(text, review={**shown, "diff": name})


#: A proposed diff this long or shorter is shown in the answer too; a longer one only as its file.
DIFF_SHOWN_LINES = 60


def make_stats(
    pathway: Pathway,
    rows: list,
    pathways: dict[str, Pathway],
    now: datetime,
    since: date | None,
    until: date | None,
    reasons: dict[int, dict[tuple[str, str], GivenReason]] | None = None,
    answered: Sequence[frozenset[int]] = (),
) -> tuple[PathwayStats, Picture, bytes, Picture]:
    """The figures of the cases read, their chart, their CSV and the chart of why children wait
    (synchronous: run in a worker thread).

    `reasons`: each case's delay reasons (`store.delays.reasons_of_cases`), by case id; `answered`: the
    case sets of the answers already given on the pathway (`care.stats.sets_apart`)."""
    from homeward.exports.stats import draw_stats, draw_waits, stats_csv  # matplotlib loads on the first picture

    histories = cases.case_histories(rows, pathways)
    for history in histories:
        history.loaded.view.reasons = (reasons or {}).get(history.loaded.case.id, {})
    facts = [CaseFacts(h.loaded.view, h.opened_at, h.phases, h.closings, h.loaded.case.id) for h in histories]
    figures = pathway_stats(pathway, facts, now, since=since, until=until, answered=answered)
    return figures, draw_stats(figures), stats_csv(figures), draw_waits(figures)


def _period(ctx: Context, since: date | None, until: date | None) -> Markdown:
    if since is None and until is None:
        return ctx.t("stats.all_time")
    return ctx.t("stats.period", since=since.isoformat() if since else "…", until=until.isoformat() if until else "…")
