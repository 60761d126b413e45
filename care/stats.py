"""The pathway's numbers over a team's cases: only aggregates, and nothing about fewer than five cases.

`pathway_stats` takes the facts of each case (its view, when it opened, when it entered
each phase, when it was closed or reopened) and gives the figures a hospital and a
municipality argue about: days per phase and from admission to discharge (median and
quartiles), days on the statutory clocks, the share of items done late per lane, the
time receiving lanes take to acknowledge a notice, and re-openings within 30 days where
they are known.

Small numbers identify people: every figure drawn from fewer than `MIN_CASES` cases is
suppressed (shown as "< 5"), its count too. No figure carries a case's label. `shown` is
that rule, in one place: every figure goes through it (`Spread`, `Share`, the answer's
own case count), and a new figure must too.

Across answers (`sets_apart`): two answers whose cases differ by one case give that case's
figures by subtraction (`part`/`whole` side by side, a count, a sum). Whatever answers one
combines by adding and subtracting, the finest group of cases it can single out is an
*atom* — cases that every answer either counts together or leaves out together. So an
answer is refused when, with the answers already given on that pathway (by anyone: the
files are shared), it would make an atom of 1 to 4 cases; an answer asking what was asked
before, or adding or leaving out at least five cases at a time, is given.

What each figure counts:
- days per phase: phases a case has left (the current phase is still running), in days
  from entering it to entering the next (or the closing);
- admission to discharge: cases with both dates set and the discharge day passed, in days
  between the local dates;
- clocks: clocks that have stopped, in counted days (`care.clocks`), and the share of them
  that reached their limit;
- done late: per lane, what it completed against a due time — a task done, a notice sent
  (the sender) against the notice's own due rule, each receiving lane's acknowledgement
  against the time to acknowledge;
- time to acknowledge: per receiving lane, hours from sending to its acknowledgement;
- re-opened within 30 days: closed cases reopened within 30 days of the closing, among
  those whose 30 days are over or that were reopened; "not known" while no case was closed;
- waits by reason and lane (`care.delays`): every time a lane was late with an item, in
  days from the due time to when it did its part (or, in an open case, to now while it
  still waits; a step a closed case never saw done is left out), grouped by the reason the
  lane gave ("none given" too): the days per wait (median, quartiles) and all the days
  together;
- days after ready to go home, and their cost: for each clock that has stopped, the days
  past its limit (those the municipality pays for) and what they cost at the rate the
  pathway cites (`care.clocks.cost_of`); no cost where the pathway cites none.

Every figure of the last two goes through `suppressed` like the others: fewer than
`MIN_CASES` cases behind a row, and the row shows "< 5". A reason and lane with fewer than
five cases is not named either (that a child waited for, say, the family's decision is
itself the kind of thing that identifies): such rows are left out, and `waits_hidden`
says that some were.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from homeward.care.case import CaseView, done_at, due_at, rule_due_at
from homeward.care.clocks import cost_of, read_clocks
from homeward.care.delays import waits
from homeward.care.pathway import Pathway

MIN_CASES = 5
SUPPRESSED = "< 5"
REOPEN_WINDOW = timedelta(days=30)


def shown(cases: int) -> bool:
    """The suppression rule, the one place every figure goes through: a figure is shown only when it is
    drawn from at least `MIN_CASES` cases (else it is "< 5", its count too)."""
    return cases >= MIN_CASES


def sets_apart(answered: Sequence[frozenset[int]], asked: frozenset[int]) -> int | None:
    """The size of the smallest group of 1 to `MIN_CASES` - 1 cases that an answer over the cases `asked`,
    together with the answers already given over the case sets `answered`, would single out (the smallest
    new atom; see the module's docstring), or None when it singles out none.

    Only the atoms this answer makes count: each group the earlier answers keep together is either
    kept whole or split into two parts of at least `MIN_CASES` each, and the cases no earlier answer
    counted are none or at least `MIN_CASES`. An answer with too few cases to show any figure reveals
    nothing and is not checked (nor recorded).
    """
    if not shown(len(asked)):
        return None
    atoms: dict[tuple[bool, ...], set[int]] = {}
    for case in set().union(*answered) if answered else set():
        atoms.setdefault(tuple(case in earlier for earlier in answered), set()).add(case)
    smallest: int | None = None
    parts: list[set[int]] = [
        part for atom in atoms.values() for part in (atom & asked, atom - asked) if atom & asked and atom - asked
    ]
    parts.append(set(asked - set().union(*answered)) if answered else set(asked))
    for part in parts:
        if len(part) > 0 and not shown(len(part)):
            smallest = len(part) if smallest is None else min(smallest, len(part))
    return smallest


def suppressed(cases: int) -> bool:
    """Whether a figure drawn from `cases` cases must not be shown (the k ≥ 5 rule), for the figures below."""
    return not shown(cases)


@dataclass(frozen=True)
class CaseFacts:
    """One case as the figures need it."""

    view: CaseView
    opened_at: datetime
    phases: list[tuple[str, datetime]]  # (phase id, entered at), the first at the opening
    closings: list[tuple[str, datetime]] = field(default_factory=list)  # ("closed" | "reopened", at), in order
    case_id: int = 0  # the store's id: which cases an answer counted (`sets_apart`), never shown


@dataclass(frozen=True)
class Spread:
    """Median and quartiles of values drawn from `cases` cases (suppressed below MIN_CASES)."""

    cases: int
    values: int = 0
    median: float | None = None
    q1: float | None = None
    q3: float | None = None

    @property
    def suppressed(self) -> bool:
        return not shown(self.cases)

    def json(self) -> dict[str, Any]:
        if self.suppressed:
            return {"cases": SUPPRESSED, "median": SUPPRESSED, "q1": SUPPRESSED, "q3": SUPPRESSED}
        return {"cases": self.cases, "median": self.median, "q1": self.q1, "q3": self.q3}


@dataclass(frozen=True)
class Share:
    """`part` of `whole`, drawn from `cases` cases (suppressed below MIN_CASES)."""

    cases: int
    part: int = 0
    whole: int = 0

    @property
    def suppressed(self) -> bool:
        return not shown(self.cases)

    @property
    def share(self) -> float | None:
        return round(self.part / self.whole, 3) if self.whole and not self.suppressed else None

    def json(self) -> dict[str, Any]:
        if self.suppressed:
            return {"cases": SUPPRESSED, "share": SUPPRESSED, "part": SUPPRESSED, "whole": SUPPRESSED}
        return {"cases": self.cases, "share": self.share, "part": self.part, "whole": self.whole}


@dataclass(frozen=True)
class Total:
    """A sum of values drawn from `cases` cases (suppressed below MIN_CASES)."""

    cases: int
    value: float = 0.0

    @property
    def suppressed(self) -> bool:
        return suppressed(self.cases)

    def json(self) -> dict[str, Any]:
        if self.suppressed:
            return {"cases": SUPPRESSED, "total": SUPPRESSED}
        return {"cases": self.cases, "total": round(self.value, 2)}


def total(by_case: dict[int, list[float]]) -> Total:
    """The sum of every value, counting the cases they came from."""
    return Total(sum(1 for found in by_case.values() if found), sum(v for found in by_case.values() for v in found))


@dataclass(frozen=True)
class WaitRow:
    """The waits of one lane for one reason: days per wait and all the days together."""

    reason: str  # the pathway's reason id; "" where the lane gave none
    reason_name: str  # its label ("" where none was given: the chart says so in its language)
    code: str  # the shared code ("" where none was given)
    lane: str
    lane_name: str
    spread: Spread
    total: Total

    @property
    def suppressed(self) -> bool:
        return self.total.suppressed


@dataclass(frozen=True)
class CostRow:
    """A clock's days past its limit over the cases whose clock stopped, and what they cost."""

    id: str
    name: str
    paid_days: Total
    cost: Total | None  # None: the pathway cites no rate for this clock
    currency: str | None
    unit: str | None  # the source's word for a day paid for
    years: tuple[int, ...]  # the years whose amounts were used
    estimated: bool  # some day was costed at an earlier year's amount
    source: str | None

    @property
    def suppressed(self) -> bool:
        return self.paid_days.suppressed


@dataclass(frozen=True)
class Row:
    """One line of a figure: what it is about (a phase, a clock, a lane) and its numbers."""

    id: str
    name: str
    spread: Spread | None = None
    share: Share | None = None


@dataclass(frozen=True)
class PathwayStats:
    pathway_id: str
    pathway_title: str
    language: str
    timezone: str
    cases: int
    since: date | None
    until: date | None
    phase_days: tuple[Row, ...]
    stay: Spread
    clocks: tuple[Row, ...]  # spread: days on the clock; share: reached its limit
    late: tuple[Row, ...]
    ack_hours: tuple[Row, ...]
    reopened: Share | None  # None: no case was closed, not known
    case_ids: frozenset[int] = frozenset()  # the cases counted (never shown): what `sets_apart` compares
    waits: tuple[WaitRow, ...] = ()  # by reason and lane, the most days first; only rows of five cases or more
    waits_hidden: bool = False  # some reason and lane had waits in fewer than five cases: not named
    costs: tuple[CostRow, ...] = ()  # per clock: days past its limit, and their cost
    # Across answers: the fewest cases this answer sets apart from the answers already given (`sets_apart`),
    # or None. Set apart, it shows no figure at all (`stats_json`), and `!stats` refuses it.
    set_apart: int | None = None

    @property
    def suppressed(self) -> bool:
        return not shown(self.cases)


def spread(by_case: dict[int, list[float]]) -> Spread:
    """Median and quartiles of every value, counting the cases they came from."""
    values = sorted(v for found in by_case.values() for v in found)
    cases = sum(1 for found in by_case.values() if found)
    if not shown(cases) or not values:
        return Spread(cases, len(values))
    q1, median, q3 = statistics.quantiles(values if len(values) > 1 else values * 2, n=4, method="inclusive")
    return Spread(cases, len(values), round(median, 1), round(q1, 1), round(q3, 1))


def share(by_case: dict[int, tuple[int, int]]) -> Share:
    """(part, whole) summed over the cases that had anything to count."""
    counted = {case: pw for case, pw in by_case.items() if pw[1]}
    return Share(len(counted), sum(p for p, _ in counted.values()), sum(w for _, w in counted.values()))


def _days(start: datetime, end: datetime) -> float:
    return (end - start) / timedelta(days=1)


def _local_day(value: date | datetime, zone: ZoneInfo) -> date:
    return value.astimezone(zone).date() if isinstance(value, datetime) else value


def in_period(facts: CaseFacts, since: date | None, until: date | None) -> bool:
    """Whether the case was opened within the local dates `since`..`until` (both included)."""
    opened = facts.opened_at.astimezone(ZoneInfo(facts.view.pathway.timezone)).date()
    return (since is None or opened >= since) and (until is None or opened <= until)


def pathway_stats(
    pathway: Pathway,
    cases: list[CaseFacts],
    now: datetime,
    *,
    since: date | None = None,
    until: date | None = None,
    answered: Sequence[frozenset[int]] = (),
) -> PathwayStats:
    """The figures over the cases of one pathway opened in the period (all of them without one).

    `answered`: the case sets of the answers already given on this pathway; an answer that would set
    fewer than `MIN_CASES` cases apart from them (`sets_apart`) shows none of its figures — the waits
    and their days too, which subtract as easily as a count."""
    zone = ZoneInfo(pathway.timezone)
    chosen = [f for f in cases if f.view.pathway.id == pathway.id and in_period(f, since, until)]
    phase_days: dict[str, dict[int, list[float]]] = {p.id: {} for p in pathway.phases}
    stay: dict[int, list[float]] = {}
    clock_days: dict[str, dict[int, list[float]]] = {c.id: {} for c in pathway.clocks}
    clock_reached: dict[str, dict[int, tuple[int, int]]] = {c.id: {} for c in pathway.clocks}
    late: dict[str, dict[int, tuple[int, int]]] = {lane.id: {} for lane in pathway.lanes}
    ack: dict[str, dict[int, list[float]]] = {lane.id: {} for lane in pathway.lanes}
    reopened: dict[int, tuple[int, int]] = {}
    any_closed = False
    wait_days: dict[tuple[str, str], dict[int, list[float]]] = {}
    wait_codes: dict[str, str] = {}
    paid: dict[str, dict[int, list[float]]] = {c.id: {} for c in pathway.clocks}
    spent: dict[str, dict[int, list[float]]] = {c.id: {} for c in pathway.clocks}
    years: dict[str, set[int]] = {c.id: set() for c in pathway.clocks}
    estimated: dict[str, bool] = {c.id: False for c in pathway.clocks}

    for n, facts in enumerate(chosen):
        view = facts.view
        calendar = view.calendar()
        closed_at = _closed_at(facts)

        for i, (phase_id, entered) in enumerate(facts.phases):
            left = facts.phases[i + 1][1] if i + 1 < len(facts.phases) else closed_at
            if left is not None and phase_id in phase_days:
                phase_days[phase_id].setdefault(n, []).append(round(_days(entered, left), 2))

        admitted, discharged = view.dates.get("admission"), view.dates.get("discharge")
        if admitted is not None and discharged is not None:
            last = _local_day(discharged, zone)
            if last <= now.astimezone(zone).date():
                stay.setdefault(n, []).append(float((last - _local_day(admitted, zone)).days))

        for reading in read_clocks(view, now, closed_at=closed_at):
            if reading.state == "stopped" and reading.days is not None:
                clock_days[reading.id].setdefault(n, []).append(float(reading.days))
                clock_reached[reading.id][n] = (int(reading.reached), 1)
                cost = cost_of(reading, now, calendar)
                paid[reading.id].setdefault(n, []).append(float(cost.days))
                if cost.amount is not None:
                    spent[reading.id].setdefault(n, []).append(cost.amount)
                    years[reading.id].update(cost.years)
                    estimated[reading.id] = estimated[reading.id] or cost.estimated

        read_at = closed_at or now
        for wait in waits(view, read_at):
            if closed_at is not None and wait.done is None:
                continue  # a step never done before the case closed was left, not waited for
            reason = wait.reason.reason if wait.reason else ""
            if wait.reason:
                wait_codes[reason] = wait.reason.code
            wait_days.setdefault((reason, wait.lane), {}).setdefault(n, []).append(round(wait.days(read_at), 2))

        counts: dict[str, list[int]] = {}
        for _, item in view.items():
            record = view.record(item.id)
            if item.kind == "task":
                due, finished = due_at(view, item, calendar), done_at(view, item)
                if due is not None and finished is not None:
                    counts.setdefault(item.lane or "", [0, 0])[0] += finished > due
                    counts[item.lane or ""][1] += 1
                continue
            if record.sent_at is None:
                continue
            send_due = rule_due_at(view, item, calendar)  # the notice's own rule: was it sent in time?
            if send_due is not None:
                counts.setdefault(item.sender or "", [0, 0])[0] += record.sent_at > send_due
                counts[item.sender or ""][1] += 1
            ack_due = due_at(view, item, calendar)
            for a in record.acks:
                ack.setdefault(a.lane, {}).setdefault(n, []).append(
                    round((a.at - record.sent_at) / timedelta(hours=1), 2)
                )
                if ack_due is not None:
                    counts.setdefault(a.lane, [0, 0])[0] += a.at > ack_due
                    counts[a.lane][1] += 1
        for lane, (part, whole) in counts.items():
            late.setdefault(lane, {})[n] = (part, whole)

        closings = sorted(facts.closings, key=lambda c: c[1])
        for i, (what, at) in enumerate(closings):
            if what != "closed":
                continue
            any_closed = True
            back = next((t for w, t in closings[i + 1 :] if w == "reopened"), None)
            again = back is not None and back - at <= REOPEN_WINDOW
            known = again or now - at >= REOPEN_WINDOW
            if known:
                part, whole = reopened.get(n, (0, 0))
                reopened[n] = (part + int(again), whole + 1)

    lanes = {lane.id: lane.name for lane in pathway.lanes}
    wait_rows = _wait_rows(pathway, wait_days, wait_codes, lanes)
    return PathwayStats(
        pathway_id=pathway.id,
        pathway_title=pathway.title,
        language=pathway.language,
        timezone=pathway.timezone,
        cases=len(chosen),
        since=since,
        until=until,
        phase_days=tuple(Row(p.id, p.title, spread=spread(phase_days[p.id])) for p in pathway.phases),
        stay=spread(stay),
        clocks=tuple(
            Row(c.id, c.label, spread=spread(clock_days[c.id]), share=share(clock_reached[c.id]))
            for c in pathway.clocks
        ),
        late=tuple(Row(lane, lanes.get(lane, lane), share=share(by_case)) for lane, by_case in late.items() if by_case),
        ack_hours=tuple(
            Row(lane, lanes.get(lane, lane), spread=spread(by_case)) for lane, by_case in ack.items() if by_case
        ),
        reopened=share(reopened) if any_closed else None,
        case_ids=frozenset(f.case_id for f in chosen),
        set_apart=sets_apart(answered, frozenset(f.case_id for f in chosen)),
        waits=tuple(row for row in wait_rows if not row.suppressed),
        waits_hidden=any(row.suppressed for row in wait_rows),
        costs=tuple(
            CostRow(
                c.id,
                c.label,
                total(paid[c.id]),
                total(spent[c.id]) if c.rate is not None else None,
                c.rate.currency if c.rate else None,
                c.rate.unit if c.rate else None,
                tuple(sorted(years[c.id])),
                estimated[c.id],
                c.rate.source if c.rate else None,
            )
            for c in pathway.clocks
        ),
    )


def _wait_rows(
    pathway: Pathway,
    wait_days: dict[tuple[str, str], dict[int, list[float]]],
    codes: dict[str, str],
    lanes: dict[str, str],
) -> tuple[WaitRow, ...]:
    """One row per (reason, lane) that has waits; the most days first, suppressed rows last (never shown)."""
    names = {r.id: r.label for r in pathway.delay_reasons}
    rows = [
        WaitRow(
            reason,
            names.get(reason, reason),
            codes.get(reason, ""),
            lane,
            lanes.get(lane, lane),
            spread(by_case),
            total(by_case),
        )
        for (reason, lane), by_case in wait_days.items()
    ]
    rows.sort(key=lambda r: (r.suppressed, -r.total.value if not r.suppressed else 0, r.reason == "", r.reason, r.lane))
    return tuple(rows)


def closed_time(facts: CaseFacts) -> datetime | None:
    """When the case is closed now (its last closing, unless it was reopened after it); None while open."""
    return _closed_at(facts)


def _closed_at(facts: CaseFacts) -> datetime | None:
    """When the case is closed now (its last closing, unless it was reopened after it)."""
    last = sorted(facts.closings, key=lambda c: c[1])[-1:] if facts.closings else []
    return last[0][1] if last and last[0][0] == "closed" else None


def stats_json(stats: PathwayStats) -> dict[str, Any]:
    """The figures for `homeward.stats`, suppressed exactly as the chart and the CSV are (and every one of
    them when the answer sets fewer than five cases apart from those already given)."""
    figures = _stats_json(stats)
    if stats.set_apart is None:
        return figures
    kept = {"pathway", "from", "to"}
    return {key: value if key in kept else _hidden(value) for key, value in figures.items()}


def _hidden(value: Any) -> Any:
    """Every number of a figure's JSON shown as suppressed; its structure (ids, names) kept."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return SUPPRESSED
    if isinstance(value, dict):
        return {key: _hidden(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_hidden(item) for item in value]
    return value


def _stats_json(stats: PathwayStats) -> dict[str, Any]:
    return {
        "pathway": stats.pathway_id,
        "cases": SUPPRESSED if stats.suppressed else stats.cases,
        "from": stats.since.isoformat() if stats.since else None,
        "to": stats.until.isoformat() if stats.until else None,
        "phase_days": [{"id": r.id, **r.spread.json()} for r in stats.phase_days if r.spread],
        "admission_to_discharge_days": stats.stay.json(),
        "clocks": [
            {"id": r.id, "days": r.spread.json(), "reached_limit": r.share.json()}
            for r in stats.clocks
            if r.spread and r.share
        ],
        "late_share": [{"lane": r.id, **r.share.json()} for r in stats.late if r.share],
        "ack_hours": [{"lane": r.id, **r.spread.json()} for r in stats.ack_hours if r.spread],
        "reopened_30_days": stats.reopened.json() if stats.reopened else {"known": False},
        "waits_by_reason": [
            {
                "reason": r.reason or None,
                "code": r.code or None,
                "lane": r.lane,
                "days_per_wait": r.spread.json(),
                "days": r.total.json(),
            }
            for r in stats.waits
        ],
        "waits_hidden": stats.waits_hidden,
        "days_after_ready": [
            {
                "clock": r.id,
                "paid_days": r.paid_days.json(),
                "cost": None
                if r.cost is None
                else {**r.cost.json(), "currency": r.currency, "years": list(r.years), "estimated": r.estimated},
            }
            for r in stats.costs
        ],
    }
