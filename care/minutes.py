"""Minutes of one meeting of a case, as an event-sourced, versioned value.

Minutes record what the team agreed, and actions agreed in a meeting become tasks of
the case, so they must be trustworthy afterwards: every entry is a `MinutesChange`
(what, by whom, when, why) and `Minutes` is only the fold of those changes
(`care.changelog`, shared with the plan). Closing
locks the minutes; changing them again takes a reopen with a reason, and both stay in
the history. A wrong entry is struck with a reason, never deleted.

Pure, like the rest of `care`: operations look at the current minutes and return the
one change to store, or raise a `Refusal` with a catalog key.

The meeting is one of the pathway's (`Pathway.meetings`, its agenda copied from
`Meeting.topic_lines()` when the minutes are opened, so later edits of the pathway
file cannot renumber answered topics) or an ``extra`` meeting with its own title and
optional agenda.

References, never reused within one set of minutes: notes ``n1``, decisions ``d1``,
actions ``a1``, topic answers ``t3`` (agenda line 3, 1-based), and a present person
by their user id. An action is data for the bot to store as a task of the case: its
``a`` ref is stable, and a ``struck`` change with that ref means the task is void.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from homeward.care.changelog import (
    Change,
    Versioned,
    checked_text,
    fold,
    follows,
    next_change,
    owner_id,
    require_aware,
)
from homeward.care.pathway import Pathway
from homeward.care.refusal import Refusal
from homeward.ids import is_user_id

__all__ = [
    "EXTRA",
    "MAX_DURATION",
    "Entry",
    "Minutes",
    "MinutesAction",
    "MinutesChange",
    "MinutesKind",
    "TopicAnswer",
    "add_decision",
    "add_note",
    "add_present",
    "answer_topic",
    "apply_minutes",
    "assign_action",
    "close",
    "fold_minutes",
    "new_minutes",
    "reopen",
    "reschedule",
    "strike",
]

#: The meeting id of minutes for a meeting the pathway does not list.
EXTRA = "extra"
#: Longest scheduled meeting; anything longer is a typo (minutes instead of hours).
MAX_DURATION = timedelta(hours=24)

MinutesKind = Literal[
    "opened", "rescheduled", "present", "note", "decision", "action", "answer", "struck", "closed", "reopened"
]


# --- the change records -------------------------------------------------------------


@dataclass(frozen=True)
class MinutesChange(Change):
    """One entry of the minutes' history, as stored: never changed or deleted once recorded.

    ``ref`` names what the change creates or strikes (``n1``, ``d1``, ``a1``, ``t3`` or a
    user id); the other fields are the payload of its ``kind``.
    """

    kind: MinutesKind
    ref: str | None = None
    text: str | None = None
    users: tuple[str, ...] = ()
    owner: str | None = None
    due: date | None = None
    topic: str | None = None  # the agenda line answered, as it read then
    meeting: str | None = None
    title: str | None = None
    start: datetime | None = None
    duration: timedelta | None = None
    topics: tuple[str, ...] = ()
    reason: str | None = None


# --- the snapshot -----------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """A note or a decision."""

    ref: str
    text: str
    at: datetime
    by: str


@dataclass(frozen=True)
class MinutesAction:
    """An agreed action: the bot stores it as a task of the case, keyed by ``ref``."""

    ref: str
    text: str
    owner: str  # a lane id of the pathway, or a Matrix user id "@x:y"
    due: date | None
    at: datetime
    by: str

    @property
    def owner_is_lane(self) -> bool:
        return not self.owner.startswith("@")


@dataclass(frozen=True)
class TopicAnswer:
    """What the meeting said about agenda line ``n`` (the latest answer counts)."""

    n: int
    topic: str
    text: str
    at: datetime
    by: str

    @property
    def ref(self) -> str:
        return f"t{self.n}"


@dataclass(frozen=True)
class Minutes(Versioned):
    """The minutes as they stand after their changes; `changes` is the full history, from their opening."""

    changes: tuple[MinutesChange, ...]
    meeting: str  # a meeting id of the pathway, or EXTRA
    title: str
    start: datetime
    duration: timedelta
    topics: tuple[str, ...] = ()
    present: tuple[str, ...] = ()
    notes: tuple[Entry, ...] = ()
    decisions: tuple[Entry, ...] = ()
    actions: tuple[MinutesAction, ...] = ()
    answers: tuple[TopicAnswer, ...] = ()  # by agenda number
    closed: bool = False

    @property
    def end(self) -> datetime:
        return self.start + self.duration

    @property
    def is_extra(self) -> bool:
        return self.meeting == EXTRA

    @property
    def closed_at(self) -> datetime | None:
        """When the minutes were last closed, while they are closed."""
        return self.changes[-1].at if self.closed else None

    @property
    def closed_by(self) -> str | None:
        return self.changes[-1].by if self.closed else None

    def answer(self, n: int) -> TopicAnswer | None:
        return next((a for a in self.answers if a.n == n), None)

    def unanswered(self) -> list[int]:
        """Agenda numbers nobody has answered yet: what the meeting still has to cover."""
        done = {a.n for a in self.answers}
        return [n for n in range(1, len(self.topics) + 1) if n not in done]

    def refs(self) -> list[str]:
        """Everything that can be struck now."""
        return [
            *self.present,
            *(e.ref for e in self.notes),
            *(e.ref for e in self.decisions),
            *(a.ref for a in self.actions),
            *(a.ref for a in self.answers),
        ]


# --- folding ----------------------------------------------------------------------------


def apply_minutes(minutes: Minutes | None, change: MinutesChange) -> Minutes:
    """The minutes after one more change (None before the first); ValueError if it does not fit."""
    if minutes is None:
        if change.kind != "opened" or change.version != 1:
            raise ValueError("minutes start with an 'opened' change, version 1")
        if change.start is None or change.duration is None or change.meeting is None:
            raise ValueError("an 'opened' change needs meeting, start and duration")
        return Minutes(
            changes=(change,),
            meeting=change.meeting,
            title=change.title or change.meeting,
            start=change.start,
            duration=change.duration,
            topics=change.topics,
        )
    follows("minutes", minutes.version, change)
    m = replace(minutes, changes=(*minutes.changes, change))
    text, ref = change.text or "", change.ref or ""
    if change.kind == "rescheduled":
        m = replace(m, start=change.start or m.start, duration=change.duration or m.duration)
    elif change.kind == "present":
        m = replace(m, present=(*m.present, *(u for u in change.users if u not in m.present)))
    elif change.kind == "note":
        m = replace(m, notes=(*m.notes, Entry(ref, text, change.at, change.by)))
    elif change.kind == "decision":
        m = replace(m, decisions=(*m.decisions, Entry(ref, text, change.at, change.by)))
    elif change.kind == "action":
        action = MinutesAction(ref, text, change.owner or "", change.due, change.at, change.by)
        m = replace(m, actions=(*m.actions, action))
    elif change.kind == "answer":
        n = int(ref.removeprefix("t"))
        answer = TopicAnswer(n, change.topic or "", text, change.at, change.by)
        kept = [a for a in m.answers if a.n != n]
        m = replace(m, answers=tuple(sorted([*kept, answer], key=lambda a: a.n)))
    elif change.kind == "struck":
        m = replace(
            m,
            present=tuple(u for u in m.present if u != ref),
            notes=tuple(e for e in m.notes if e.ref != ref),
            decisions=tuple(e for e in m.decisions if e.ref != ref),
            actions=tuple(a for a in m.actions if a.ref != ref),
            answers=tuple(a for a in m.answers if a.ref != ref),
        )
    elif change.kind == "closed":
        m = replace(m, closed=True)
    elif change.kind == "reopened":
        m = replace(m, closed=False)
    else:
        raise ValueError(f"minutes change {change.version} has kind {change.kind!r}, which cannot follow 'opened'")
    return m


def fold_minutes(changes: Iterable[MinutesChange]) -> Minutes:
    """The minutes that the stored changes describe (in version order); ValueError if none."""
    minutes = fold(changes, apply_minutes, None)
    if minutes is None:
        raise ValueError("no minutes changes to fold")
    return minutes


# --- operations -------------------------------------------------------------------------


def new_minutes(
    pathway: Pathway,
    meeting: str,
    start: datetime,
    duration: timedelta,
    *,
    by: str,
    at: datetime,
    title: str | None = None,
    topics: Sequence[str] = (),
) -> MinutesChange:
    """Open minutes for a meeting of the pathway (its agenda copied) or an ``extra`` one.

    ``title`` is required for an extra meeting and optional otherwise; ``topics`` is the
    agenda of an extra meeting (a pathway meeting's agenda comes from the pathway).
    """
    require_aware(start)
    _check_duration(duration)
    if meeting == EXTRA:
        name = _line(title or "")
        agenda = tuple(_line(t) for t in topics)
    else:
        try:
            found = pathway.meeting(meeting)
        except KeyError:
            known = ", ".join([*(x.id for x in pathway.meetings), EXTRA])
            raise Refusal("minutes.unknown_meeting", meeting=meeting, meetings=known) from None
        if topics:
            raise ValueError("a pathway meeting's agenda comes from the pathway file")
        name = _line(title) if title is not None and title.strip() else found.title
        agenda = tuple(found.topic_lines())
    return _first(by, at, meeting=meeting, title=name, start=start, duration=duration, topics=agenda)


def reschedule(
    minutes: Minutes,
    start: datetime,
    duration: timedelta | None = None,
    *,
    by: str,
    at: datetime,
    reason: str | None = None,
) -> MinutesChange:
    """Move the scheduled start (and maybe the duration) of the meeting."""
    _open(minutes)
    require_aware(start)
    if duration is not None:
        _check_duration(duration)
    return _change(minutes, "rescheduled", by, at, reason, start=start, duration=duration or minutes.duration)


def add_present(minutes: Minutes, users: Iterable[str], *, by: str, at: datetime) -> MinutesChange:
    """Record who was at the meeting (Matrix user ids); people already listed are skipped."""
    _open(minutes)
    wanted = [u.strip() for u in users]
    if not wanted:
        raise ValueError("add_present needs at least one user id")
    for user in wanted:
        if not is_user_id(user):
            raise Refusal("minutes.bad_user", user=user)
    new = tuple(dict.fromkeys(u for u in wanted if u not in minutes.present))
    if not new:
        raise Refusal("minutes.already_present", users=", ".join(dict.fromkeys(wanted)))
    return _change(minutes, "present", by, at, None, users=new)


def add_note(minutes: Minutes, text: str, *, by: str, at: datetime) -> MinutesChange:
    """Record a note (what was said); notes may have several lines."""
    _open(minutes)
    cleaned = _lines(text)
    return _change(minutes, "note", by, at, None, ref=f"n{_count(minutes, 'note') + 1}", text=cleaned)


def add_decision(minutes: Minutes, text: str, *, by: str, at: datetime) -> MinutesChange:
    """Record a decision, kept apart from notes because people look for what was decided."""
    _open(minutes)
    cleaned = _lines(text)
    return _change(minutes, "decision", by, at, None, ref=f"d{_count(minutes, 'decision') + 1}", text=cleaned)


def assign_action(
    minutes: Minutes,
    pathway: Pathway,
    text: str,
    owner: str,
    *,
    by: str,
    at: datetime,
    due: date | None = None,
) -> MinutesChange:
    """Record an agreed action for a lane (id, name or alias) or a person (``@x:y``).

    The bot turns it into a task of the case. A due date before the meeting day is a typo.
    """
    _open(minutes)
    cleaned = _line(text)
    owner = owner_id(pathway, owner, "minutes")
    if due is not None:
        day = minutes.start.astimezone(ZoneInfo(pathway.timezone)).date()
        if due < day:
            raise Refusal("minutes.due_before_meeting", due=due.isoformat(), day=day.isoformat())
    ref = f"a{_count(minutes, 'action') + 1}"
    return _change(minutes, "action", by, at, None, ref=ref, text=cleaned, owner=owner, due=due)


def answer_topic(minutes: Minutes, n: int | str, text: str, *, by: str, at: datetime) -> MinutesChange:
    """Record what the meeting said about agenda line ``n`` (1-based; 3 or "t3"); a new answer replaces the old."""
    _open(minutes)
    number = _topic_number(n)
    if number is None or not 1 <= number <= len(minutes.topics):
        raise Refusal("minutes.unknown_topic", n=n, count=len(minutes.topics))
    cleaned = _lines(text)
    return _change(minutes, "answer", by, at, None, ref=f"t{number}", text=cleaned, topic=minutes.topics[number - 1])


def strike(minutes: Minutes, ref: str, reason: str, *, by: str, at: datetime) -> MinutesChange:
    """Take an entry out of the minutes with a reason (a struck action voids its task); it stays in history."""
    _open(minutes)
    wanted = ref.strip()
    if not wanted.startswith("@"):
        wanted = wanted.lower()
    if wanted not in minutes.refs():
        raise Refusal("minutes.unknown_ref", ref=ref, refs=", ".join(minutes.refs()) or "—")
    if not reason.strip():
        raise Refusal("minutes.reason_needed")
    return _change(minutes, "struck", by, at, reason, ref=wanted)


def close(minutes: Minutes, *, by: str, at: datetime) -> MinutesChange:
    """Lock the minutes: they are what the meeting agreed, and further changes need a reopen."""
    if minutes.closed:
        raise Refusal("minutes.already_closed")
    return _change(minutes, "closed", by, at, None)


def reopen(minutes: Minutes, reason: str, *, by: str, at: datetime) -> MinutesChange:
    """Unlock closed minutes; the reason is required so readers know why they changed after the meeting."""
    if not minutes.closed:
        raise Refusal("minutes.not_closed")
    if not reason.strip():
        raise Refusal("minutes.reason_needed")
    return _change(minutes, "reopened", by, at, reason)


# --- helpers ----------------------------------------------------------------------------


def _first(by: str, at: datetime, **payload: Any) -> MinutesChange:
    return next_change(MinutesChange, 0, "opened", by, at, **payload)


def _change(
    minutes: Minutes, kind: MinutesKind, by: str, at: datetime, reason: str | None, **payload: Any
) -> MinutesChange:
    cleaned = _lines(reason) if reason is not None and reason.strip() else None
    return next_change(MinutesChange, minutes.version, kind, by, at, reason=cleaned, **payload)


def _open(minutes: Minutes) -> None:
    if minutes.closed:
        raise Refusal("minutes.closed")


def _check_duration(duration: timedelta) -> None:
    if duration <= timedelta(0) or duration > MAX_DURATION:
        raise Refusal("minutes.bad_duration", minutes=int(duration.total_seconds() // 60))


def _count(minutes: Minutes, kind: MinutesKind) -> int:
    """How many entries of a kind were ever made, struck ones included: refs are never reused."""
    return sum(1 for c in minutes.changes if c.kind == kind)


def _topic_number(n: int | str) -> int | None:
    if isinstance(n, int):
        return n
    text = n.strip().lower().removeprefix("t")
    return int(text) if text.isdigit() else None


def _line(text: str) -> str:
    """One line (titles, agenda lines, action texts that become task titles)."""
    return checked_text(" ".join(text.split()), "minutes")


def _lines(text: str) -> str:
    """Text whose line breaks matter (notes, decisions, answers, reasons)."""
    return checked_text("\n".join(line.rstrip() for line in text.strip().splitlines()), "minutes")
