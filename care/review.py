"""What a case's end says, and what many ends say about the pathway.

`case_review` reads a closed case at its closing: the time spent in each phase against
what the pathway expects (the phase's last deadline, from its items' due rules), every
step that was late with the reason its lane gave, the acknowledgements that took longest,
and the days after the child was ready to go home with their cost at the rate the
pathway cites. The bot posts it once when the case closes, and the case PDF carries it.

`pathway_review` reads the closed cases of one pathway together: the steps most often
late, how late, and why (only reasons given in five cases or more are named: the k ≥ 5
rule of the statistics), and for a step late in at least half the cases a proposed change
to the pathway file (`Proposal`), written as a readable diff by `pathway_diff` — for the
pathway's owners to decide, never applied by Homeward. A deadline the law sets is not
moved: the proposal then only records the evidence beside it.

Pure: the caller loads the cases and the pathway file's text.
"""

from __future__ import annotations

import difflib
import math
import re
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from homeward.care.case import CaseView, due_at
from homeward.care.clocks import cost_of, read_clocks
from homeward.care.delays import Step, steps, waits
from homeward.care.pathway import AckDue, DueRule, Item, Pathway
from homeward.care.stats import Share, Spread, share, spread, suppressed

SLOWEST_ACKS = 3  # how many acknowledgements the review names as the slowest
MOST_LATE = 5  # how many steps `!stats review` names
PROPOSE_FROM = 0.5  # a step late in at least this share of the cases gets a proposal
#: A rule whose source cites a law or regulation: its deadline is not Homeward's to move.
STATUTORY = re.compile(r"§|\bLag \(|\blagen\b|\blov\b|\blova\b|forskrift|förordning|\bSFS\b", re.IGNORECASE)


# --- one case -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class PhaseTime:
    """How long the case was in one phase, against the phase's last deadline (None: the pathway sets none)."""

    phase_id: str
    title: str
    entered: datetime
    left: datetime
    expected_by: datetime | None

    @property
    def days(self) -> float:
        return (self.left - self.entered) / timedelta(days=1)

    @property
    def over_days(self) -> float | None:
        """Days the phase ran past its last deadline (negative: it ended before it)."""
        return None if self.expected_by is None else (self.left - self.expected_by) / timedelta(days=1)


@dataclass(frozen=True)
class LateStep:
    """A lane late with a step, and why (as it said)."""

    item_id: str
    title: str
    lane: str
    lane_name: str
    step: Step
    due: datetime
    done: datetime | None  # None: not done when the case closed
    days: float
    reason: str | None
    reason_label: str | None
    code: str | None


@dataclass(frozen=True)
class SlowAck:
    item_id: str
    title: str
    lane: str
    lane_name: str
    sent: datetime
    acked: datetime

    @property
    def hours(self) -> float:
        return (self.acked - self.sent) / timedelta(hours=1)


@dataclass(frozen=True)
class ClockTime:
    """A statutory clock at the closing: its days, those past the limit, and their cost where a rate is cited."""

    clock_id: str
    label: str
    state: str
    days: int | None
    paid_days: int
    amount: float | None
    currency: str | None
    unit: str | None
    years: tuple[int, ...]
    estimated: bool


@dataclass(frozen=True)
class CaseReview:
    pathway_id: str
    pathway_title: str
    language: str
    timezone: str
    label: str
    opened_at: datetime
    closed_at: datetime
    phases: tuple[PhaseTime, ...]
    late: tuple[LateStep, ...]
    slowest: tuple[SlowAck, ...]
    clocks: tuple[ClockTime, ...]

    @property
    def days(self) -> float:
        return (self.closed_at - self.opened_at) / timedelta(days=1)


def case_review(
    view: CaseView, history: list[tuple[str, datetime]], opened_at: datetime, closed_at: datetime
) -> CaseReview:
    """The review of a case read at its closing (`history`: when it entered each phase, the first at its opening)."""
    pathway = view.pathway
    calendar = view.calendar()
    lanes = {lane.id: lane.name for lane in pathway.lanes}
    known = {phase.id for phase in pathway.phases}
    entered = [(pid, at) for pid, at in history if pid in known]
    phases: list[PhaseTime] = []
    for n, (phase_id, at) in enumerate(entered):
        left = entered[n + 1][1] if n + 1 < len(entered) else closed_at
        dues = [
            due
            for phase, item in view.items()
            if phase.id == phase_id
            for due in [due_at(view, item, calendar)]
            if due is not None
        ]
        phases.append(PhaseTime(phase_id, pathway.phase(phase_id).title, at, max(left, at), max(dues, default=None)))
    late = []
    for wait in waits(view, closed_at):
        item = view.item(wait.item_id)
        label = None
        if wait.reason is not None:
            try:
                label = pathway.reason(wait.reason.reason).label
            except KeyError:
                label = wait.reason.reason
        late.append(
            LateStep(
                wait.item_id,
                item.title,
                wait.lane,
                lanes.get(wait.lane, wait.lane),
                wait.step,
                wait.due,
                wait.done,
                round(wait.days(closed_at), 2),
                wait.reason.reason if wait.reason else None,
                label,
                wait.reason.code if wait.reason else None,
            )
        )
    acks = [
        SlowAck(item.id, item.title, a.lane, lanes.get(a.lane, a.lane), record.sent_at, a.at)
        for _, item in view.items()
        if item.kind == "notice"
        for record in [view.record(item.id)]
        if record.sent_at is not None
        for a in record.acks
    ]
    acks.sort(key=lambda a: (-a.hours, a.item_id, a.lane))
    clocks = []
    for reading in read_clocks(view, closed_at, closed_at=closed_at):
        cost = cost_of(reading, closed_at, calendar)
        clocks.append(
            ClockTime(
                reading.id,
                reading.label,
                reading.state,
                reading.days,
                cost.days,
                cost.amount,
                cost.currency,
                cost.unit,
                cost.years,
                cost.estimated,
            )
        )
    return CaseReview(
        pathway.id,
        pathway.title,
        pathway.language,
        pathway.timezone,
        view.label,
        opened_at,
        closed_at,
        tuple(phases),
        tuple(sorted(late, key=lambda s: (s.due, s.item_id, s.lane))),
        tuple(acks[:SLOWEST_ACKS]),
        tuple(clocks),
    )


def review_json(review: CaseReview) -> dict[str, Any]:
    """The review as data (`homeward.review`): the figures the message shows, and no more."""

    def iso(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    return {
        "pathway": review.pathway_id,
        "opened_at": iso(review.opened_at),
        "closed_at": iso(review.closed_at),
        "days": round(review.days, 2),
        "phases": [
            {
                "id": p.phase_id,
                "entered": iso(p.entered),
                "left": iso(p.left),
                "days": round(p.days, 2),
                "expected_by": iso(p.expected_by),
                "over_days": None if p.over_days is None else round(p.over_days, 2),
            }
            for p in review.phases
        ],
        "late": [
            {
                "item": s.item_id,
                "lane": s.lane,
                "step": s.step,
                "due": iso(s.due),
                "done": iso(s.done),
                "days": s.days,
                "reason": s.reason,
                "code": s.code,
            }
            for s in review.late
        ],
        "slowest_acks": [
            {"item": a.item_id, "lane": a.lane, "sent": iso(a.sent), "acked": iso(a.acked), "hours": round(a.hours, 2)}
            for a in review.slowest
        ],
        "clocks": [
            {
                "id": c.clock_id,
                "state": c.state,
                "days": c.days,
                "paid_days": c.paid_days,
                "cost": None
                if c.amount is None
                else {"amount": c.amount, "currency": c.currency, "years": list(c.years), "estimated": c.estimated},
            }
            for c in review.clocks
        ],
    }


# --- many cases ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClosedCase:
    """A closed case as `pathway_review` needs it: its view and when it was closed."""

    view: CaseView
    closed_at: datetime


@dataclass(frozen=True)
class Proposal:
    """A change to one rule of the pathway file, with the evidence for it.

    `field`: "due" (the item's own deadline) or "ack_due" (its time to acknowledge).
    `new_offset` None: the rule is set by law, so only the evidence is written beside it.
    `adds`: the item has no `ack_due` of its own yet; the proposal adds one.
    """

    item_id: str
    field: str
    unit: str
    old_offset: int
    new_offset: int | None
    adds: AckDue | None
    evidence: str


@dataclass(frozen=True)
class StepLate:
    """One step of the pathway (an item's part for a lane) over the closed cases."""

    item_id: str
    title: str
    lane: str
    lane_name: str
    step: Step
    late: Share  # cases: those in which the step had a due time; part: late
    days: Spread  # days late, of the late ones
    reasons: tuple[tuple[str, str, int], ...]  # (reason id, label, cases): only those given in five cases or more
    other_reasons: bool  # some reasons (or none) were given in fewer than five cases each: not named
    proposal: Proposal | None


@dataclass(frozen=True)
class PathwayReview:
    pathway_id: str
    pathway_title: str
    language: str
    timezone: str
    cases: int  # closed cases read
    steps: tuple[StepLate, ...]  # the steps most often late, at most MOST_LATE

    @property
    def suppressed(self) -> bool:
        return suppressed(self.cases)


def pathway_review(pathway: Pathway, closed: Iterable[ClosedCase], today: date) -> PathwayReview:
    """The closed cases of `pathway` read together: which steps were most often late, by how much and why."""
    chosen = [c for c in closed if c.view.pathway.id == pathway.id]
    counts: dict[tuple[str, str, Step], dict[int, tuple[int, int]]] = {}
    lateness: dict[tuple[str, str, Step], dict[int, list[float]]] = {}
    reasons: dict[tuple[str, str, Step], dict[str, set[int]]] = {}
    for n, case in enumerate(chosen):
        view = case.view
        calendar = view.calendar()
        for _, item in view.items():
            if item.id in view.extra:
                continue  # a task the team added is not the pathway's
            for lane, step, due, done in steps(view, item, calendar):
                if due is None or (done is None and case.closed_at <= due):
                    continue
                key = (item.id, lane, step)
                is_late = (done or case.closed_at) > due
                part, whole = counts.setdefault(key, {}).get(n, (0, 0))
                counts[key][n] = (part + int(is_late), whole + 1)
                if is_late:
                    lateness.setdefault(key, {}).setdefault(n, []).append(
                        ((done or case.closed_at) - due) / timedelta(days=1)
                    )
                    given = view.reasons.get((item.id, lane))
                    reasons.setdefault(key, {}).setdefault(given.reason if given else "", set()).add(n)
    lanes = {lane.id: lane.name for lane in pathway.lanes}
    found: list[StepLate] = []
    for key, by_case in counts.items():
        item_id, lane, step = key
        late = share(by_case)
        if late.suppressed or not late.part:
            continue
        days = spread(lateness.get(key, {}))
        named, hidden = [], False
        for reason_id, in_cases in sorted(reasons.get(key, {}).items(), key=lambda r: (-len(r[1]), r[0])):
            if suppressed(len(in_cases)):
                hidden = True
                continue
            label = next((r.label for r in pathway.delay_reasons if r.id == reason_id), reason_id)
            named.append((reason_id, label, len(in_cases)))
        item = pathway.item(item_id)
        found.append(
            StepLate(
                item_id,
                item.title,
                lane,
                lanes.get(lane, lane),
                step,
                late,
                days,
                tuple(named),
                hidden,
                _proposal(pathway, item, step, late, days, tuple(named), today),
            )
        )
    found.sort(key=lambda s: (-(s.late.part / s.late.whole), -s.late.part, s.item_id, s.lane))
    return PathwayReview(
        pathway.id, pathway.title, pathway.language, pathway.timezone, len(chosen), tuple(found[:MOST_LATE])
    )


def _extra(unit: str, days: float) -> int:
    """How much later, in the rule's unit, a deadline would have to be to take in `days` days of lateness."""
    if unit == "hours":
        return math.ceil(days * 24)
    if unit == "working_days":
        return math.ceil(days * 5 / 7)
    return math.ceil(days)


def _proposal(
    pathway: Pathway,
    item: Item,
    step: Step,
    late: Share,
    days: Spread,
    named: tuple[tuple[str, str, int], ...],
    today: date,
) -> Proposal | None:
    """For a step late in at least half the cases: its deadline later by the median lateness (not a law's)."""
    if late.whole == 0 or late.part / late.whole < PROPOSE_FROM or days.median is None:
        return None
    why = (
        ", ".join(f"{reason or 'none given'} {count}" for reason, _, count in named) or "not named (fewer than 5 each)"
    )
    evidence = (
        f"Homeward review of {today.isoformat()} ({late.cases} closed cases): late in {late.part} of {late.whole}"
        f" (median {days.median:g} days late); reasons: {why}."
    )
    rule: DueRule | AckDue | None
    if step == "ack":
        rule, field = item.ack_due, "ack_due"
        if rule is None:
            default = pathway.settings.default_ack_due
            added = AckDue(
                offset=default.offset + _extra(default.unit, days.median),
                unit=default.unit,
                at=default.at,
                source=f"{evidence} Proposed instead of the default ({default.offset} {default.unit}).",
            )
            return Proposal(item.id, field, default.unit, default.offset, added.offset, added, evidence)
    else:
        rule, field = item.due, "due"
    if rule is None:
        return None
    if STATUTORY.search(rule.source):
        return Proposal(item.id, field, rule.unit, rule.offset, None, None, evidence)
    extra = _extra(rule.unit, days.median)
    backwards = isinstance(rule, DueRule) and rule.direction == "before"
    new = max(rule.offset - extra, 0) if backwards else rule.offset + extra
    return Proposal(item.id, field, rule.unit, rule.offset, new, None, evidence)


# --- the proposal as a diff of the pathway file -----------------------------------------------------
def propose(text: str, proposals: Iterable[Proposal]) -> str:
    """The pathway file's text with the proposals written in: offsets changed, the evidence as a comment.

    Only the lines of each proposal change; every other line, comment and blank line stays.
    """
    lines = text.split("\n")
    for proposal in proposals:
        lines = _apply(lines, proposal)
    return "\n".join(lines)


def _block(lines: list[str], start: int, indent: int) -> int:
    """The end (exclusive) of the YAML block at `start`, whose content is indented deeper than `indent`."""
    end = start + 1
    while end < len(lines):
        line = lines[end]
        if line.strip() and not line.lstrip().startswith("#") and len(line) - len(line.lstrip()) <= indent:
            break
        end += 1
    while end > start + 1 and (
        not lines[end - 1].strip()
        or (lines[end - 1].lstrip().startswith("#") and len(lines[end - 1]) - len(lines[end - 1].lstrip()) <= indent)
    ):
        end -= 1  # blank lines and comments of what follows are not the block's
    return end


def _apply(lines: list[str], proposal: Proposal) -> list[str]:
    head = re.compile(rf"^(\s*)- id: ['\"]?{re.escape(proposal.item_id)}['\"]?\s*(#.*)?$")
    found = None
    for n, line in enumerate(lines):  # the item, not a phase of the same id: an item's block has its `kind:`
        if head.match(line):
            dash = len(line) - len(line.lstrip())
            end = _block(lines, n, dash)
            if any(re.match(rf"^ {{{dash + 2}}}kind:", lines[k]) for k in range(n + 1, end)):
                found = (n, dash, end)
                break
    if found is None:
        return lines
    at, dash, end = found
    key_indent = " " * (dash + 2)
    comment = [f"{key_indent}# {part}" for part in _wrap(proposal.evidence)]
    if proposal.new_offset is None:
        comment.append(f"{key_indent}# The deadline is set by law: look at why it is late rather than moving it.")
    else:
        comment.append(
            f"{key_indent}# Proposed: {proposal.field} offset {proposal.new_offset} {proposal.unit}"
            f" (was {proposal.old_offset}). Not applied: for the pathway's owners to decide."
        )
    if proposal.adds is not None:
        added = proposal.adds
        block = [*comment, f"{key_indent}{proposal.field}:"]
        block.append(f"{key_indent}  offset: {added.offset}")
        block.append(f"{key_indent}  unit: {added.unit}")
        if added.at:
            block.append(f'{key_indent}  at: "{added.at}"')
        block.append(f"{key_indent}  source: >-")
        block.extend(f"{key_indent}    {part}" for part in _wrap(added.source, 70))
        return [*lines[:end], *block, *lines[end:]]
    field_line = re.compile(rf"^{key_indent}{proposal.field}:")
    where = next((n for n in range(at + 1, end) if field_line.match(lines[n])), None)
    if where is None:
        return lines
    if proposal.new_offset is not None:
        if lines[where].rstrip().endswith(":"):  # block style: the offset is on its own line
            inner = _block(lines, where, dash + 2)
            for n in range(where + 1, inner):
                if re.match(r"^\s*offset:\s*\d+", lines[n]):
                    lines[n] = re.sub(r"(offset:\s*)\d+", rf"\g<1>{proposal.new_offset}", lines[n], count=1)
                    break
        else:  # flow style: {offset: 1, …}
            lines[where] = re.sub(r"(offset:\s*)\d+", rf"\g<1>{proposal.new_offset}", lines[where], count=1)
    return [*lines[:where], *comment, *lines[where:]]


def _wrap(text: str, width: int = 88) -> list[str]:
    return textwrap.wrap(text, width) or [""]


def pathway_diff(pathway_id: str, before: str, after: str) -> str:
    """A unified diff of the pathway file, as `git diff` shows one (empty when nothing changes)."""
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=f"a/pathways/{pathway_id}.yaml",
            tofile=f"b/pathways/{pathway_id}.yaml",
        )
    )


def pathway_review_json(review: PathwayReview) -> dict[str, Any]:
    """`homeward.review` of `!stats review`: suppressed exactly as the message is."""
    if review.suppressed:
        return {"pathway": review.pathway_id, "cases": "< 5", "steps": []}
    return {
        "pathway": review.pathway_id,
        "cases": review.cases,
        "steps": [
            {
                "item": s.item_id,
                "lane": s.lane,
                "step": s.step,
                "late": s.late.json(),
                "days_late": s.days.json(),
                "reasons": [{"reason": r or None, "cases": n} for r, _, n in s.reasons],
                "other_reasons": s.other_reasons,
                "proposal": None
                if s.proposal is None
                else {
                    "field": s.proposal.field,
                    "unit": s.proposal.unit,
                    "old_offset": s.proposal.old_offset,
                    "new_offset": s.proposal.new_offset,
                    "statutory": s.proposal.new_offset is None,
                },
            }
            for s in review.steps
        ],
    }


__all__ = [
    "CaseReview",
    "ClosedCase",
    "PathwayReview",
    "Proposal",
    "case_review",
    "pathway_diff",
    "pathway_review",
    "pathway_review_json",
    "propose",
    "review_json",
]
