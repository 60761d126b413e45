"""`!export plan|case|minutes <meeting-id> pdf|html|md|fhir|ics` and `!export events csv|ndjson`: the documents
and the case's event log, as encrypted files.

An export shares the plan or the minutes, so it is refused while the consent that covers
exports is missing or withdrawn. Every export is an audited read. The whole case's HTML and
PDF carry its timeline picture (`care.timeline`), drawn with the document in the worker thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from homeward.care.clocks import read_clocks
from homeward.care.consent import require_consent
from homeward.care.events import SCHEMA, case_events
from homeward.care.permissions import CARE_TEAM, COORDINATOR
from homeward.care.review import case_review
from homeward.care.timeline import timeline_layout
from homeward.commands.context import Context, Reply
from homeward.commands.registry import ANY_STATE, CASE_ROOM, Arg, CommandError, Converter, Section, command
from homeward.exports.build import careplan_document, minutes_document, named_in_plan
from homeward.exports.document import CarePlanDocument
from homeward.exports.events import FORMATS as FORMATS_OF_EVENTS
from homeward.exports.fhir import to_fhir_bundle
from homeward.exports.plandefinition import plan_definition_canonical
from homeward.exports.render import Document, render_html, render_markdown, render_pdf
from homeward.messages.careplan import change_note
from homeward.messages.review import review_markdown
from homeward.ratelimit import PDF_EXPORTS
from homeward.store import cases, changelogs, consents
from homeward.store.events import event_sources
from homeward.work.care_room import closed_at

# A format: the file's suffix and mimetype, and how a document becomes the file's bytes.
#: The formats of every document, the minutes too.
DOCUMENT_FORMATS: dict[str, tuple[str, str, Callable[[Document], bytes]]] = {
    "pdf": ("pdf", "application/pdf", render_pdf),
    "html": ("html", "text/html", lambda doc: render_html(doc).encode("utf-8")),
    "md": ("md", "text/markdown", lambda doc: render_markdown(doc).encode("utf-8")),
}
#: The formats of the plan and the whole case.
FORMATS: dict[str, tuple[str, str, Callable[[CarePlanDocument], bytes]]] = {
    **DOCUMENT_FORMATS,
    "fhir": (
        "fhir.json",
        "application/fhir+json",
        lambda doc: json.dumps(to_fhir_bundle(doc), ensure_ascii=False, indent=2).encode("utf-8"),
    ),
    "ics": ("ics", "text/calendar", lambda document: _to_ics(document)),
}
MINUTES_FORMATS = tuple(DOCUMENT_FORMATS)
#: The event log's formats (exports.events).
EVENT_FORMATS = FORMATS_OF_EVENTS


def format_arg(allowed: tuple[str, ...]) -> Converter:
    """A format among `allowed` (case-insensitive), or a refusal listing them."""

    def convert(text: str, ctx: Context) -> str:
        fmt = text.lower()
        if fmt not in allowed:
            raise CommandError("export.bad_format", format=fmt[:20], formats=", ".join(allowed))
        return fmt

    return convert


@command(
    "export plan",
    args=[Arg("format", format_arg(tuple(FORMATS)), metavar="|".join(FORMATS))],
    where=CASE_ROOM,
    rule=CARE_TEAM,
    state=ANY_STATE,
    help_section=Section.DOCUMENTS,
)
async def export_plan(ctx: Context) -> Reply:
    """Export the coordinated plan (SIP / individuell plan) as PDF, HTML, Markdown, FHIR or iCalendar."""
    return await _export(ctx, "plan", ctx.args["format"], None)


@command(
    "export case",
    args=[Arg("format", format_arg(tuple(FORMATS)), metavar="|".join(FORMATS))],
    where=CASE_ROOM,
    rule=CARE_TEAM,
    state=ANY_STATE,
    help_section=Section.DOCUMENTS,
)
async def export_case(ctx: Context) -> Reply:
    """Export the whole case (plan, dates, items, minutes) as PDF, HTML, Markdown, FHIR or iCalendar."""
    return await _export(ctx, "case", ctx.args["format"], None)


@command(
    "export minutes",
    args=[Arg("meeting-id"), Arg("format", format_arg(MINUTES_FORMATS), metavar="|".join(MINUTES_FORMATS))],
    where=CASE_ROOM,
    rule=CARE_TEAM,
    state=ANY_STATE,
    help_section=Section.DOCUMENTS,
)
async def export_minutes(ctx: Context) -> Reply:
    """Export one meeting's minutes as PDF, HTML or Markdown."""
    return await _export(ctx, "minutes", ctx.args["format"], ctx.args["meeting-id"].lower())


@command(
    "export events",
    args=[Arg("format", format_arg(tuple(EVENT_FORMATS)), metavar="|".join(EVENT_FORMATS))],
    where=CASE_ROOM,
    rule=COORDINATOR,
    state=ANY_STATE,
    help_section=Section.DOCUMENTS,
)
async def export_events(ctx: Context) -> Reply:
    """Export the case's event log (docs/EVENTS.md) as CSV or NDJSON: what happened when, how late and why,
    with the case as a pseudonym and no name, user id or free text (so no consent is needed to share it)."""
    room = ctx.care
    case = room.case
    (source,) = await event_sources(ctx.db, ctx.services.pathways, [case.id])
    events = case_events(source, room.view.pathway, ctx.now)
    suffix, mimetype, write = EVENT_FORMATS[ctx.args["format"]]
    data = write(events)
    zone = ZoneInfo(room.view.pathway.timezone)
    name = f"events-{source.pseudonym}-{ctx.now.astimezone(zone):%Y%m%d}.{suffix}"  # no label: the file may leave
    info = {"what": "events", "format": ctx.args["format"], "schema": SCHEMA, "rows": len(events)}
    await room.queue_file(name, mimetype, data, export={**info, "sha256": hashlib.sha256(data).hexdigest()})
    await room.audit("export.made", **info)
    return ctx.ok(ctx.t("export.events", name=name, rows=len(events), schema=SCHEMA), export=info)


async def _export(ctx: Context, what: str, fmt: str, meeting: str | None) -> Reply:
    """Render the document in a worker thread and queue it as an encrypted file; refused without the export consent."""
    room = ctx.care
    case, view = room.case, room.view
    answers = await consents.answers(ctx.db, case.id)
    require_consent(view, answers, "export")
    render: Callable[[], bytes]  # the document in the format asked for
    if meeting is not None:
        held = await changelogs.load_minutes(ctx.db, case.id, meeting)
        if held is None:
            raise CommandError("minutes.no_meeting", meeting=meeting)
        suffix, mimetype, render_minutes = DOCUMENT_FORMATS[fmt]
        names = _names(ctx, [*held.present, *(c.by for c in held.changes)])
        render = partial(render_minutes, minutes_document(view, held, ctx.now, names=names))
        version = held.version
    else:
        plan = await changelogs.load_careplan(ctx.db, case.id)
        timeline = None
        review = None
        if what == "case":  # the whole case carries its timeline picture (drawn with the HTML / PDF)
            closed = closed_at(case)
            history = await cases.phase_history(ctx.db, case.id)
            timeline = timeline_layout(
                view, ctx.now, history, read_clocks(view, ctx.now, closed_at=closed), closed_at=closed
            )
            if closed is not None:  # and a closed case its review, as posted when it closed
                read = case_review(view, history, case.opened_at or closed, closed)
                review = review_markdown(room, read, view.pathway, message=False)
        document = careplan_document(
            view,
            plan,
            answers,
            await changelogs.all_minutes(ctx.db, case.id),
            ctx.now,
            case.opened_by,
            timeline=timeline,
            names=_names(ctx, named_in_plan(view, plan, answers, case.opened_by)),
            change_note=change_note(room, plan.changes[-1] if plan.changes else None, view.pathway),
            review=review,
            canonical=plan_definition_canonical(view.pathway),
        )
        suffix, mimetype, render_plan = FORMATS[fmt]
        render = partial(render_plan, document)
        version = plan.version
    limiter = ctx.services.limiter
    rate = limiter.rate_for(PDF_EXPORTS, None) if fmt == "pdf" else None  # `export_pdf_limit`, per person
    if rate is not None:
        wait = limiter.wait(ctx.sender, PDF_EXPORTS, rate, ctx.now)
        if wait is not None:
            raise CommandError(
                "export.too_many_pdf",
                count=rate.count,
                minutes=max(1, round(rate.period.total_seconds() / 60)),
                time=(ctx.now + wait).astimezone(ZoneInfo(view.pathway.timezone)).strftime("%H:%M"),
            )
    # A big PDF takes seconds (bench/exports.py): render in a worker thread so the sync loop,
    # the decryption of incoming events and the homeserver connection keep going meanwhile.
    data = await asyncio.to_thread(render)
    digest = hashlib.sha256(data).hexdigest()
    name = f"{what}{'-' + meeting if meeting else ''}-{case.label}-v{version}.{suffix}"
    info = {
        "what": what if meeting is None else f"minutes {meeting}",
        "format": fmt,
        "version": version,
        "sha256": digest,
    }
    await room.queue_file(name, mimetype, data, export=info)
    await room.audit("export.made", **info)
    if rate is not None:
        limiter.record(ctx.sender, PDF_EXPORTS, rate, ctx.now)
    return ctx.ok(ctx.t("export.done", name=name, version=version), export=info)


def _to_ics(document: Any) -> bytes:
    """icalendar is loaded with the first invitation, not at start (the bot's memory, BENCHMARKS.md)."""
    from homeward.exports.ics import to_ics

    return to_ics(document)


def _names(ctx: Context, users: list[str]) -> dict[str, str]:
    """The display names the room gives `users` now (read from the bot's client, not from the store: a
    document names people as the room does when it is made, and the store keeps no names)."""
    found = {user: ctx.services.display_name(ctx.room_id, user) for user in dict.fromkeys(users)}
    return {user: name for user, name in found.items() if name}
