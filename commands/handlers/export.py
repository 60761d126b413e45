"""`!export plan|case|minutes <meeting-id> pdf|html|md|fhir|ics`: the documents, as encrypted files.

An export shares the plan or the minutes, so it is refused while the consent that covers
exports is missing or withdrawn. Every export is an audited read.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable

from homeward.care.consent import require_consent
from homeward.commands.care_room import current_case
from homeward.commands.context import Context, Reply
from homeward.commands.registry import CASE_ROOM, Arg, CommandError, command
from homeward.exports.build import minutes_document, plan_document
from homeward.exports.fhir import to_fhir_bundle
from homeward.exports.ics import to_ics
from homeward.exports.render import render_html, render_markdown, render_pdf
from homeward.store import cases, consents, outbox, plans

Renderer = Callable[[object], bytes]
FORMATS: dict[str, tuple[str, str, Renderer]] = {
    "pdf": ("pdf", "application/pdf", render_pdf),  # type: ignore[dict-item]
    "html": ("html", "text/html", lambda doc: render_html(doc).encode("utf-8")),  # type: ignore[arg-type]
    "md": ("md", "text/markdown", lambda doc: render_markdown(doc).encode("utf-8")),  # type: ignore[arg-type]
    "fhir": ("fhir.json", "application/fhir+json", lambda doc: json.dumps(to_fhir_bundle(doc), ensure_ascii=False, indent=2).encode("utf-8")),  # type: ignore[arg-type]
    "ics": ("ics", "text/calendar", to_ics),  # type: ignore[dict-item]
}
MINUTES_FORMATS = ("pdf", "html", "md")


@command("export", args=[Arg("what", metavar="plan|case|minutes"), Arg("rest", repeat=True, metavar="[meeting-id] format")], where=CASE_ROOM)
async def export(ctx: Context) -> Reply:
    """Export the plan (or the whole case) or one meeting's minutes as PDF, HTML, Markdown, FHIR or iCalendar."""
    case, view = await current_case(ctx)
    what = ctx.args["what"].lower()
    rest = [word.lower() for word in ctx.args["rest"]]
    meeting = None
    if what == "minutes":
        if len(rest) != 2:
            raise CommandError("export.usage", usage=True)
        meeting, fmt = rest
        allowed = MINUTES_FORMATS
    elif what in ("plan", "case"):
        if len(rest) != 1:
            raise CommandError("export.usage", usage=True)
        (fmt,) = rest
        allowed = tuple(FORMATS)
    else:
        raise CommandError("export.usage", usage=True)
    if fmt not in allowed:
        raise CommandError("export.bad_format", format=fmt[:20], formats=", ".join(allowed))
    answers = await consents.answers(ctx.db, case.id)
    require_consent(view, answers, "export")
    if meeting is not None:
        held = await plans.load_minutes(ctx.db, case.id, meeting)
        if held is None:
            raise CommandError("minutes.no_meeting", meeting=meeting)
        document = minutes_document(view, held, ctx.now)
        version = held.version
    else:
        plan = await plans.load_plan(ctx.db, case.id)
        document = plan_document(view, plan, answers, await plans.all_minutes(ctx.db, case.id), ctx.now, case.opened_by)
        version = plan.version
    suffix, mimetype, renderer = FORMATS[fmt]
    # A big PDF takes seconds (bench/exports.py): render in a worker thread so the sync loop,
    # the decryption of incoming events and the homeserver connection keep going meanwhile.
    data = await asyncio.to_thread(renderer, document)
    digest = hashlib.sha256(data).hexdigest()
    name = f"{what}{'-' + meeting if meeting else ''}-{case.label}-v{version}.{suffix}"
    info = {"what": what if meeting is None else f"minutes {meeting}", "format": fmt, "version": version, "sha256": digest}
    await outbox.enqueue_file(ctx.db, ctx.room_id, name, mimetype, data, ctx.now, export=info)
    await cases.audit(
        ctx.db, room_id=ctx.room_id, actor=ctx.sender, action="export.made", now=ctx.now, case_id=case.id,
        event_id=ctx.event.event_id, **info,
    )
    return ctx.ok(ctx.t("export.done", name=name, version=version), export=info)
