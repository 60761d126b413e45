"""What the timeline picture of a case shows, decided before anything is drawn.

`timeline_layout` turns a `CaseView` (plus when each phase began and, for a closed case,
when it closed) into a `TimelineLayout`: plain data — phase bands along a time axis, the
named dates as markers, every item with a due time as a mark coloured by its state, the
statutory clocks as bars, today's line, and the lanes as rows. `exports.timeline` draws
it; the layout is where the decisions are, so that is what the tests read.

Times are aware datetimes in the pathway's zone: the axis is local wall-clock time, so a
deadline at 16:00 is drawn at 16:00 on both sides of a daylight-saving change.

The awkward cases, decided here:
- nothing scheduled yet (no item has a due time, no date is set, no clock has started):
  `empty` is true and nothing is drawn — the answer says so instead of showing an empty axis;
- a single day: the axis is at least a day wide and ticks in hours;
- a year or more: ticks in months;
- many items: marks due the same day in the same lane are stacked, at most `MAX_STACK`
  deep; the rest of that day is one `Crowd` ("+12");
- a closed case: the bands and clocks end at the closing, there is no today line, and
  item states are read at the closing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from homeward.care.case import CaseView, done_at, due_at, missing_lanes, rule_due_at
from homeward.care.clocks import ClockReading

MarkState = Literal["done_on_time", "done_late", "open", "overdue"]
BandState = Literal["done", "current", "planned"]
Span = Literal["hours", "days", "weeks", "months"]

#: Okabe–Ito colours, distinguishable with the common colour-vision deficiencies; the marks
#: also differ in shape (drawing), so they survive a grey-scale print.
STATE_COLOURS: dict[str, str] = {
    "done_on_time": "#009E73",  # bluish green
    "done_late": "#E69F00",  # orange
    "open": "#0072B2",  # blue
    "overdue": "#D55E00",  # vermillion
}
#: Phases that are over alternate between two light fills; the current phase stands out; the ones ahead are pale.
BAND_COLOURS: dict[str, tuple[str, ...]] = {
    "done": ("#E4E9EF", "#EFEBE1"),
    "current": ("#CFE3F5",),
    "planned": ("#F4F4F4",),
}
CLOCK_COLOURS: dict[str, str] = {"before_limit": "#8C8C8C", "after_limit": "#CC3311"}

MAX_STACK = 5  # marks of one lane on one day drawn one above the other; more become a "+n"
LABEL_CHAR = 1 / 52  # a date label's letter takes about this share of the axis in the drawing (exports.timeline)
MIN_SPAN = timedelta(days=1)  # the axis is never narrower: a single day is shown as a day


@dataclass(frozen=True)
class Row:
    lane_id: str
    name: str


@dataclass(frozen=True)
class Band:
    phase_id: str
    title: str
    start: datetime
    end: datetime
    state: BandState
    colour: str


MarkerKind = Literal["date", "meeting"]
#: A named date on the axis before its label gets a level: (when, date id, label, kind).
Placed = tuple[datetime, str, str, MarkerKind]


@dataclass(frozen=True)
class DateMarker:
    date_id: str
    label: str
    at: datetime
    kind: MarkerKind
    level: int = 0  # label height, so labels of dates close together do not overlap


@dataclass(frozen=True)
class Mark:
    item_id: str
    title: str
    row: int
    at: datetime  # the due time
    state: MarkState
    colour: str
    slot: int = 0  # height within the row, for marks of the same lane on the same day
    done_at: datetime | None = None
    phase_id: str = ""

    @property
    def shown(self) -> bool:
        """Drawn as a mark; beyond MAX_STACK the lane's day shows a `Crowd` count instead."""
        return self.slot < MAX_STACK


@dataclass(frozen=True)
class Crowd:
    """Marks of one lane on one day beyond MAX_STACK: drawn as "+hidden"."""

    row: int
    day: date
    at: datetime
    hidden: int


@dataclass(frozen=True)
class ReasonNote:
    """Why the lanes were late with a marked item, as they said (`care.delays`): drawn beside its mark."""

    item_id: str
    row: int
    at: datetime
    slot: int
    words: str  # the pathway's reason ids, "/"-joined when several lanes gave one
    lanes: tuple[tuple[str, str], ...]  # (lane id, reason id)


@dataclass(frozen=True)
class ClockBar:
    clock_id: str
    label: str
    start: datetime
    end: datetime
    limit_at: datetime
    reached: bool
    state: str
    days: int | None


@dataclass(frozen=True)
class TimelineLayout:
    label: str
    pathway_title: str
    language: str
    timezone: str
    start: datetime
    end: datetime
    span: Span
    rows: tuple[Row, ...] = ()
    bands: tuple[Band, ...] = ()
    markers: tuple[DateMarker, ...] = ()
    marks: tuple[Mark, ...] = ()
    crowds: tuple[Crowd, ...] = ()
    clocks: tuple[ClockBar, ...] = ()
    today: datetime | None = None
    closed_at: datetime | None = None
    empty: bool = False
    counts: dict[str, int] = field(default_factory=dict)  # marks per state
    reasons: tuple[ReasonNote, ...] = ()  # the reasons given for late items, beside their marks

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def mark_state(view: CaseView, item_id: str, at: datetime) -> tuple[MarkState, datetime | None, datetime | None]:
    """(state, where the mark goes, done) of one item, read at `at` (now, or the closing of a closed case).

    An item is marked at its due time; for a sent notice still waiting that is when it must
    be acknowledged. A notice that is done is marked at its own due rule's time (when it had
    to be sent), if it has one, and counts as done late when it was sent after that or
    acknowledged after its time to acknowledge.
    """
    item = view.item(item_id)
    due = due_at(view, item)  # for a sent notice: when it must be acknowledged
    own = rule_due_at(view, item) if item.kind == "notice" else due
    place = own or due
    if not missing_lanes(view, item):
        finished = done_at(view, item)
        sent = view.record(item_id).sent_at
        late = (due is not None and finished is not None and finished > due) or (
            item.kind == "notice" and own is not None and sent is not None and sent > own
        )
        return ("done_late" if late else "done_on_time"), place, finished
    return ("overdue" if due is not None and at > due else "open"), due, None


def _span(start: datetime, end: datetime) -> Span:
    width = end - start
    if width <= timedelta(days=2):
        return "hours"
    if width <= timedelta(days=21):
        return "days"
    if width <= timedelta(days=120):
        return "weeks"
    return "months"


def _marker_time(value: date | datetime, zone: ZoneInfo) -> datetime:
    """A named date as a point: its time, or midday for a bare date (the middle of its day on the axis)."""
    if isinstance(value, datetime):
        return value.astimezone(zone)
    return datetime.combine(value, time(12, 0), zone)


def timeline_layout(
    view: CaseView,
    now: datetime,
    phase_history: list[tuple[str, datetime]],
    clocks: list[ClockReading] | None = None,
    *,
    closed_at: datetime | None = None,
) -> TimelineLayout:
    """The timeline of a case at `now`.

    `phase_history` is when each phase began, in order (the first at the opening).
    """
    pathway = view.pathway
    zone = ZoneInfo(pathway.timezone)

    def local(moment: datetime) -> datetime:
        return moment.astimezone(zone)

    reading_at = closed_at if closed_at is not None else now
    end_of_case = local(reading_at)

    # Rows: the lanes that own or send at least one item, in the pathway's order.
    used = {item.lane if item.kind == "task" else item.sender for _, item in view.items()}
    rows = tuple(Row(lane.id, lane.name) for lane in pathway.lanes if lane.id in used)
    row_of = {row.lane_id: n for n, row in enumerate(rows)}

    # Marks: every item with a due time, in its lane's row; stacked per lane and day.
    raw: list[Mark] = []
    for phase, item in view.items():
        state, place, finished = mark_state(view, item.id, reading_at)
        lane = item.lane if item.kind == "task" else item.sender
        if place is None or lane not in row_of:  # no due time; or an added task of a lane the pathway no longer has
            continue
        raw.append(
            Mark(
                item.id,
                item.title,
                row_of[lane],
                local(place),
                state,
                STATE_COLOURS[state],
                done_at=local(finished) if finished else None,
                phase_id=phase.id,
            )
        )
    raw.sort(key=lambda m: (m.row, m.at, m.item_id))
    marks: list[Mark] = []
    crowds: list[Crowd] = []
    stacks: dict[tuple[int, date], list[Mark]] = {}
    for mark in raw:
        stacks.setdefault((mark.row, mark.at.date()), []).append(mark)
    for (row, day), entries in stacks.items():
        marks.extend(replace(mark, slot=slot) for slot, mark in enumerate(entries))
        if len(entries) > MAX_STACK:
            crowds.append(Crowd(row, day, entries[MAX_STACK - 1].at, len(entries) - MAX_STACK))
    marks.sort(key=lambda m: (m.at, m.row, m.slot))
    counts = {state: sum(1 for m in raw if m.state == state) for state in STATE_COLOURS}

    # Markers: the named dates that are set.
    meeting_dates = {meeting.date for meeting in pathway.meetings}
    placed: list[Placed] = sorted(
        (
            (_marker_time(view.dates[d.id], zone), d.id, d.label, "meeting" if d.id in meeting_dates else "date")
            for d in pathway.dates
            if d.id in view.dates
        ),
        key=lambda m: (m[0], m[1]),
    )

    # Clocks that have started: from the start to the stop (or now / the closing).
    bars = tuple(
        ClockBar(
            r.id,
            r.label,
            local(r.started_at),
            local(r.stopped_at or max(reading_at, r.started_at)),
            local(r.limit_at),
            r.reached,
            r.state,
            r.days,
        )
        for r in (clocks or [])
        if r.started_at is not None and r.limit_at is not None
    )

    # Bands: the phases the case went through, then the phases ahead that have dated items.
    known = [p.id for p in pathway.phases]
    history = [(pid, local(at)) for pid, at in phase_history if pid in known]
    bands: list[Band] = []
    for n, (pid, began) in enumerate(history):
        ends = history[n + 1][1] if n + 1 < len(history) else end_of_case
        current = n + 1 == len(history) and closed_at is None
        band_state: BandState = "current" if current else "done"
        fills = BAND_COLOURS[band_state]
        bands.append(Band(pid, pathway.phase(pid).title, began, max(ends, began), band_state, fills[n % len(fills)]))
    reached = known.index(history[-1][0]) if history else -1
    cursor = end_of_case
    if closed_at is None:
        for phase in pathway.phases[reached + 1 :]:
            times = [m.at for m in marks if m.phase_id == phase.id]
            if not times:
                continue
            start, finish = max(cursor, min(times)), max(times)
            if finish > start:
                bands.append(Band(phase.id, phase.title, start, finish, "planned", BAND_COLOURS["planned"][0]))
                cursor = finish

    empty = not raw and not placed and not bars
    instants = [
        end_of_case,
        *(b.start for b in bands),
        *(b.end for b in bands),
        *(m.at for m in marks),
        *(m.done_at for m in marks if m.done_at),
        *(p[0] for p in placed),
        *(c.start for c in bars),
        *(c.end for c in bars),
        *(c.limit_at for c in bars if c.reached or c.state != "stopped"),
    ]
    start, finish = min(instants), max(instants)
    if finish - start < MIN_SPAN:
        middle = start + (finish - start) / 2
        start, finish = middle - MIN_SPAN / 2, middle + MIN_SPAN / 2
    pad = max((finish - start) * 0.03, timedelta(hours=1))
    start, finish = start - pad, finish + pad

    markers = tuple(_levels(placed, finish - start))
    notes = _reason_notes(view, marks)
    return TimelineLayout(
        label=view.label,
        pathway_title=pathway.title,
        language=pathway.language,
        timezone=pathway.timezone,
        start=start,
        end=finish,
        span=_span(start, finish),
        rows=rows,
        bands=tuple(bands),
        markers=markers,
        marks=tuple(marks),
        crowds=tuple(crowds),
        clocks=bars,
        today=None if closed_at is not None else local(now),
        closed_at=local(closed_at) if closed_at else None,
        empty=empty,
        counts=counts,
        reasons=notes,
    )


def _reason_notes(view: CaseView, marks: list[Mark]) -> tuple[ReasonNote, ...]:
    """A note beside each shown mark whose item has reasons given: the reasons' words, lane by lane."""
    given: dict[str, list[tuple[str, str]]] = {}
    for (item_id, lane), answer in sorted(view.reasons.items()):
        given.setdefault(item_id, []).append((lane, answer.reason))
    notes = []
    for mark in marks:
        lanes = given.get(mark.item_id)
        if lanes and mark.shown:
            words = "/".join(dict.fromkeys(reason for _, reason in lanes))
            notes.append(ReasonNote(mark.item_id, mark.row, mark.at, mark.slot, words, tuple(lanes)))
    return tuple(notes)


def _levels(placed: list[Placed], width: timedelta) -> list[DateMarker]:
    """Markers with label levels: a label that would overlap one already placed goes a level down (three levels).

    A label's extent on the axis is estimated from its length (`LABEL_CHAR` of the axis per character).
    """
    found: list[DateMarker] = []
    spans: dict[int, list[tuple[datetime, datetime]]] = {0: [], 1: [], 2: []}
    for at, date_id, label, kind in placed:
        half = width * LABEL_CHAR * (len(label) + 2) / 2
        left, right = at - half, at + half
        free = [n for n in spans if all(right <= a or left >= b for a, b in spans[n])]
        level = free[0] if free else len(found) % 3
        spans[level].append((left, right))
        found.append(DateMarker(date_id, label, at, kind, level))
    return found


def timeline_json(layout: TimelineLayout) -> dict[str, Any]:
    """What the picture shows, for `homeward.timeline`: phases, dates, items and clocks with their times and states."""

    def iso(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    return {
        "empty": layout.empty,
        "from": iso(layout.start),
        "to": iso(layout.end),
        "today": iso(layout.today),
        "closed_at": iso(layout.closed_at),
        "lanes": [row.lane_id for row in layout.rows],
        "phases": [{"id": b.phase_id, "state": b.state, "from": iso(b.start), "to": iso(b.end)} for b in layout.bands],
        "dates": [{"id": m.date_id, "at": iso(m.at)} for m in layout.markers],
        "items": [
            {
                "id": m.item_id,
                "lane": layout.rows[m.row].lane_id,
                "due": iso(m.at),
                "state": m.state,
                "done": iso(m.done_at),
                "shown": m.shown,
            }
            for m in layout.marks
        ],
        "counts": layout.counts,
        "reasons": [{"item": n.item_id, "lanes": dict(n.lanes)} for n in layout.reasons],
        "clocks": [
            {
                "id": c.clock_id,
                "state": c.state,
                "from": iso(c.start),
                "to": iso(c.end),
                "limit_at": iso(c.limit_at),
                "reached": c.reached,
                "days": c.days,
            }
            for c in layout.clocks
        ],
    }
