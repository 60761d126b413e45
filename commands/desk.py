"""The coordinator's desk: a person's cases loaded in one read, each as one line; the morning
worklist as a message; and the planning of each person's worklist.

Where a worklist goes: the person's direct chat with the bot — the room the bot joined on
their invitation marked as direct, or the last room holding only them and the bot where
they wrote a command (`record_direct_chat`). Someone who never opened one gets no
worklist (nothing is planned for them) until they do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiosqlite

from homeward.care.desk import (
    READING_ACTIONS, CaseSummary, Worklist, coordinator_calendar, parse_digest_time, plan_digest, retention_due,
    summarize,
)
from homeward.i18n import Catalog
from homeward.services import Services
from homeward.store import desk as desk_rows
from homeward.store.cases import load_case
from homeward.text import Markdown, code, escape, room_link

#: At most this many cases are listed in one answer or worklist (one Matrix event must hold them all).
PAGE_SIZE = 25
#: At most this many entries in one section of the worklist; the rest are counted (`!cases` has them all).
SECTION_LINES = 8


@dataclass
class DeskSpeaker:
    """Writes a person's desk: their language, the bot's time zone, one moment."""

    catalog: Catalog
    language: str
    zone: ZoneInfo
    now: datetime
    services: Services

    def t(self, key: str, /, **values: Any) -> Markdown:
        return self.catalog.t(self.language, key, **values)

    def when(self, moment: datetime) -> str:
        return moment.astimezone(self.zone).strftime("%Y-%m-%d %H:%M")

    def lane(self, summary: CaseSummary, lane_id: str) -> str:
        pathway = self.services.pathways.get(summary.pathway)
        try:
            return pathway.lane(lane_id).name if pathway else lane_id
        except KeyError:
            return lane_id

    def lanes(self, summary: CaseSummary, lane_ids: tuple[str, ...]) -> str:
        return ", ".join(self.lane(summary, lane) for lane in lane_ids) or "—"

    def link(self, summary: CaseSummary) -> Markdown:
        """The case's label, linking into its room at its pinned checklist (a link to the room alone
        would show in Element as a pill with the room's name instead of the label)."""
        via = self.services.config.user_id.split(":", 1)[1]
        return Markdown(f"**{room_link(summary.room_id, summary.label, summary.checklist_event, via)}**")

    def day(self, moment: datetime) -> str:
        local = moment.astimezone(self.zone)
        weekday = str(self.t("desk.weekdays")).split(",")[local.weekday()].strip()
        return f"{weekday} {local:%Y-%m-%d}"


async def load_desk(
    db: aiosqlite.Connection, services: Services, user_id: str, now: datetime, *, closed: bool = False,
) -> list[CaseSummary]:
    """Every case on `user_id`'s desk, summarized: one read, then the care logic per case."""
    found = await desk_rows.cases_of(db, user_id, services.pathways, bot_id=services.config.user_id,
                                reading=READING_ACTIONS, closed=closed)
    return [
        summarize(c.loaded.view, case_id=c.loaded.case.id, room_id=c.loaded.case.room_id or "", answers=c.answers,
                  last_activity=c.last_activity, member=c.member, now=now, zone=services.config.timezone,
                  checklist_event=c.checklist_event)
        for c in found
    ]


# -- a case as one line ------------------------------------------------------------------------


def case_line(speaker: DeskSpeaker, summary: CaseSummary) -> str:
    """`- Label · pathway · phase · what is pressing · link`: the label links to the room."""
    parts = [speaker.link(summary), code(summary.pathway), escape(summary.phase_title)]
    if not summary.open:
        when = speaker.when(summary.closed_at) if summary.closed_at else "—"
        parts.append(speaker.t("desk.closed", when=when, reason=summary.closed_reason or "—"))
        return "- " + " · ".join(parts)
    if summary.no_coordinator:
        parts.append(speaker.t("desk.no_coordinator"))
    if not summary.member:
        return "- " + " · ".join(parts)
    if summary.overdue:
        parts.append(speaker.t("desk.overdue", count=len(summary.overdue)))
    nxt = summary.next_due
    if nxt is not None:
        parts.append(speaker.t("desk.next_due", item=nxt.item, when=speaker.when(nxt.at), lanes=speaker.lanes(summary, nxt.lanes)))
    elif not summary.overdue:
        parts.append(speaker.t("desk.nothing_due"))
    if summary.awaiting:
        waiting = ", ".join(
            speaker.t("desk.awaiting_one", item=a.item, lane=speaker.lane(summary, a.lane)) for a in summary.awaiting
        )
        parts.append(speaker.t("desk.awaiting", items=Markdown(waiting)))
    if summary.consents_pending:
        parts.append(speaker.t("desk.consents", ids=Markdown(", ".join(code(c) for c in summary.consents_pending))))
    if summary.last_activity is not None:
        days = max((speaker.now - summary.last_activity).days, 0)
        parts.append(speaker.t("desk.activity", days=days) if days else speaker.t("desk.activity_today"))
    return "- " + " · ".join(parts)


def page_of(summaries: list[CaseSummary], page: int) -> tuple[list[CaseSummary], int]:
    """The cases on page `page` (from 1) and the number of pages."""
    pages = max(1, -(-len(summaries) // PAGE_SIZE))
    page = min(max(page, 1), pages)
    return summaries[(page - 1) * PAGE_SIZE: page * PAGE_SIZE], pages


# -- the morning worklist -----------------------------------------------------------------------


def worklist_markdown(speaker: DeskSpeaker, found: Worklist, *, late_from: datetime | None = None) -> str:
    """The worklist as the person reads it: each entry with its case's room link and the command that moves it on."""
    lines = [speaker.t("digest.title", day=speaker.day(speaker.now), count=len(found.cases))]
    if late_from is not None:
        lines += ["", speaker.t("digest.late", planned=speaker.when(late_from))]

    link = speaker.link
    awaited: dict[tuple[int, str], list[Any]] = {}
    for summary, awaiting in found.awaiting:  # one line per notice: every lane that still owes its receipt
        awaited.setdefault((summary.case_id, awaiting.item), []).append((summary, awaiting))
    consents: dict[int, list[Any]] = {}
    for summary, consent in found.consents:  # one line per case
        consents.setdefault(summary.case_id, []).append((summary, consent))
    sections: list[tuple[str, list[str]]] = [
        ("digest.due_today", [
            speaker.t("digest.due_line", case=link(s), item=d.item, title=d.title, lanes=speaker.lanes(s, d.lanes),
                      when=speaker.when(d.at)[-5:], command=d.command)
            for s, d in found.due_today]),
        ("digest.overdue", [
            speaker.t("digest.overdue_line", case=link(s), item=d.item, title=d.title, lanes=speaker.lanes(s, d.lanes),
                      when=speaker.when(d.at), command=d.command)
            for s, d in found.overdue]),
        ("digest.awaiting", [
            speaker.t("digest.awaiting_line", case=link(entries[0][0]), item=entries[0][1].item, title=entries[0][1].title,
                      lane=speaker.lanes(entries[0][0], tuple(a.lane for _, a in entries)),
                      sent=speaker.when(entries[0][1].sent_at),
                      command=f"!ack {entries[0][1].item} " + (entries[0][1].lane if len(entries) == 1 else "<lane>"))
            for entries in awaited.values()]),
        ("digest.consents", [
            speaker.t("digest.consent_line", case=link(entries[0][0]),
                      consents=Markdown(", ".join(code(c) for _, c in entries)), command="!consent ask")
            for entries in consents.values()]),
        ("digest.quiet", [
            speaker.t("digest.quiet_line", case=link(s), when=speaker.when(s.last_activity) if s.last_activity else "—")
            for s in found.quiet]),
        ("digest.no_coordinator", [speaker.t("digest.no_coordinator_line", case=link(s)) for s in found.no_coordinator]),
    ]
    for key, entries in sections:
        if not entries:
            continue
        title = speaker.t(key, days=speaker.services.config.quiet_days) if key == "digest.quiet" else speaker.t(key)
        lines += ["", f"**{title}**", ""]
        lines += [f"- {entry}" for entry in entries[:SECTION_LINES]]
        if len(entries) > SECTION_LINES:
            lines.append("- " + speaker.t("digest.more", more=len(entries) - SECTION_LINES))
    lines += ["", speaker.t("digest.footer")]
    return "\n".join(lines)


def shown_cases(found: Worklist) -> list[CaseSummary]:
    """The cases the worklist's text names (each section's first SECTION_LINES), most urgent first."""
    named: dict[int, CaseSummary] = {}
    for entries in (found.due_today, found.overdue, found.awaiting, found.consents):
        for summary, _ in entries[:SECTION_LINES]:
            named[summary.case_id] = summary
    for summary in [*found.quiet[:SECTION_LINES], *found.no_coordinator[:SECTION_LINES]]:
        named[summary.case_id] = summary
    return [s for s in found.cases if s.case_id in named][:PAGE_SIZE]


def worklist_json(found: Worklist) -> list[dict[str, Any]]:
    """`homeward.digest`: the cases the worklist's text names, with the fields of `homeward.cases`."""
    return [s.as_json() for s in shown_cases(found)]


# -- planning a person's worklist ---------------------------------------------------------------


async def plan_worklist(db: aiosqlite.Connection, services: Services, user_id: str, now: datetime) -> None:
    """Bring `user_id`'s planned worklist in line with their setting, direct chat and open cases."""
    person = await desk_rows.person(db, user_id)
    at = None
    if person.direct_room is not None:
        at = parse_digest_time(person.digest or services.config.digest_time)
    config = services.config
    calendars = [
        coordinator_calendar(pathway.country, config.timezone, pathway.language)
        for pathway_id in await desk_rows.coordinated_pathways(db, user_id)
        if (pathway := services.pathways.get(pathway_id)) is not None
    ]
    today = now.astimezone(ZoneInfo(config.timezone)).date()
    rows = await desk_rows.digest_rows(db, user_id, today - timedelta(days=1))
    changes = plan_digest(at, calendars, rows, now)
    if changes:
        await desk_rows.apply_digest(db, user_id, changes)


async def record_direct_chat(db: aiosqlite.Connection, services: Services, user_id: str, room_id: str, now: datetime) -> None:
    """`room_id` is now `user_id`'s direct chat with the bot: their worklist goes there."""
    if await desk_rows.record_direct_room(db, user_id, room_id, now):
        await plan_worklist(db, services, user_id, now)


async def plan_everything(db: aiosqlite.Connection, services: Services, now: datetime) -> None:
    """At start-up: every worklist and retention run as the configuration and the store say now
    (digest_time or retention_days may have changed while the bot was down)."""
    for user_id in await desk_rows.worklist_people(db):
        await plan_worklist(db, services, user_id, now)
    for case_id in await desk_rows.closed_cases(db):
        loaded = await load_case(db, case_id, services.pathways)
        await desk_rows.plan_retention(db, case_id, retention_due(loaded.view, services.config.retention_days))
