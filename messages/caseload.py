"""The coordinator's desk as people read it: one line per case (`!cases`) and the morning worklist.

Loading a person's cases and scheduling their worklist are units of work (`work.worklists`);
which cases are urgent and what a worklist holds is care logic (`care.caseload`, `care.worklist`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from homeward.care.caseload import PAGE_SIZE, CaseSummary
from homeward.care.pathway import Pathway
from homeward.care.worklist import Worklist
from homeward.messages.catalog import Catalog
from homeward.text import Markdown, code, escape, room_link

#: At most this many entries in one section of the worklist; the rest are counted (`!cases` has them all).
SECTION_LINES = 8


@dataclass
class CaseloadSpeaker:
    """Writes a person's desk: their language, the bot's time zone, one moment."""

    catalog: Catalog
    language: str
    zone: ZoneInfo
    now: datetime
    #: The pathways by id (a lane's name) and the bot's server name (the `via` of a room link).
    pathways: dict[str, Pathway]
    server_name: str

    def t(self, key: str, /, **values: Any) -> Markdown:
        return self.catalog.t(self.language, key, **values)

    def when(self, moment: datetime) -> str:
        return moment.astimezone(self.zone).strftime("%Y-%m-%d %H:%M")

    def lane(self, summary: CaseSummary, lane_id: str) -> str:
        pathway = self.pathways.get(summary.pathway)
        try:
            return pathway.lane(lane_id).name if pathway else lane_id
        except KeyError:
            return lane_id

    def lanes(self, summary: CaseSummary, lane_ids: tuple[str, ...]) -> str:
        return ", ".join(self.lane(summary, lane) for lane in lane_ids) or "—"

    def consent_titles(self, summary: CaseSummary, consent_ids: tuple[str, ...] | list[str]) -> Markdown:
        """The consents by their titles, as the family was asked them (an id the pathway no longer has: the id)."""
        pathway = self.pathways.get(summary.pathway)
        titles = []
        for consent_id in consent_ids:
            try:
                titles.append(f"**{escape(pathway.consent(consent_id).title)}**" if pathway else code(consent_id))
            except KeyError:
                titles.append(code(consent_id))
        return Markdown(", ".join(titles))

    def link(self, summary: CaseSummary) -> Markdown:
        """The case's label, linking into its room at its pinned checklist (a link to the room alone
        would show in Element as a pill with the room's name instead of the label)."""
        return Markdown(f"**{room_link(summary.room_id, summary.label, summary.checklist_event, self.server_name)}**")

    def day(self, moment: datetime) -> str:
        local = moment.astimezone(self.zone)
        weekday = str(self.t("desk.weekdays")).split(",")[local.weekday()].strip()
        return f"{weekday} {local:%Y-%m-%d}"


def case_line(speaker: CaseloadSpeaker, summary: CaseSummary) -> str:
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
        parts.append(
            speaker.t(
                "desk.next_due", item=nxt.item, when=speaker.when(nxt.at), lanes=speaker.lanes(summary, nxt.lanes)
            )
        )
    elif not summary.overdue:
        parts.append(speaker.t("desk.nothing_due"))
    if summary.awaiting:
        waiting = ", ".join(
            speaker.t("desk.awaiting_one", item=a.item, lane=speaker.lane(summary, a.lane)) for a in summary.awaiting
        )
        parts.append(speaker.t("desk.awaiting", items=Markdown(waiting)))
    if summary.consents_pending:
        parts.append(speaker.t("desk.consents", titles=speaker.consent_titles(summary, summary.consents_pending)))
    if summary.last_activity is not None:
        days = max((speaker.now - summary.last_activity).days, 0)
        parts.append(speaker.t("desk.activity", days=days) if days else speaker.t("desk.activity_today"))
    return "- " + " · ".join(parts)


# -- the morning worklist -----------------------------------------------------------------------


def worklist_markdown(speaker: CaseloadSpeaker, found: Worklist, *, late_from: datetime | None = None) -> str:
    """The worklist as the person reads it: each entry with its case's room link and the command that moves it on."""
    lines: list[str] = [speaker.t("digest.title", day=speaker.day(speaker.now), count=len(found.cases))]
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
        (
            "digest.due_today",
            [
                speaker.t(
                    "digest.due_line",
                    case=link(s),
                    item=d.item,
                    title=d.title,
                    lanes=speaker.lanes(s, d.lanes),
                    when=speaker.when(d.at)[-5:],
                    command=d.command,
                )
                for s, d in found.due_today
            ],
        ),
        (
            "digest.overdue",
            [
                speaker.t(
                    "digest.overdue_line",
                    case=link(s),
                    item=d.item,
                    title=d.title,
                    lanes=speaker.lanes(s, d.lanes),
                    when=speaker.when(d.at),
                    command=d.command,
                )
                for s, d in found.overdue
            ],
        ),
        (
            "digest.awaiting",
            [
                speaker.t(
                    "digest.awaiting_line",
                    case=link(entries[0][0]),
                    item=entries[0][1].item,
                    title=entries[0][1].title,
                    lane=speaker.lanes(entries[0][0], tuple(a.lane for _, a in entries)),
                    sent=speaker.when(entries[0][1].sent_at),
                    command=f"!ack {entries[0][1].item} " + (entries[0][1].lane if len(entries) == 1 else "<lane>"),
                )
                for entries in awaited.values()
            ],
        ),
        (
            "digest.consents",
            [
                speaker.t(
                    "digest.consent_line",
                    case=link(entries[0][0]),
                    titles=speaker.consent_titles(entries[0][0], [c for _, c in entries]),
                    command="!consent ask",
                )
                for entries in consents.values()
            ],
        ),
        (
            "digest.quiet",
            [
                speaker.t(
                    "digest.quiet_line", case=link(s), when=speaker.when(s.last_activity) if s.last_activity else "—"
                )
                for s in found.quiet
            ],
        ),
        (
            "digest.no_coordinator",
            [speaker.t("digest.no_coordinator_line", case=link(s)) for s in found.no_coordinator],
        ),
    ]
    for key, entries in sections:
        if not entries:
            continue
        title = speaker.t(key, days=found.quiet_days) if key == "digest.quiet" else speaker.t(key)
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
