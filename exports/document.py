"""The input of every export: a plain, frozen snapshot of a case.

The exports know nothing about Matrix, SQL or the pathway models: whoever exports a
case copies what it needs into these dataclasses, and the renderers turn them into
HTML, PDF, Markdown, FHIR and iCalendar.  That keeps the exports testable on their own
and makes it impossible for them to change a case.

Lists may be given as lists or tuples; they are stored as tuples.  The small records
written as tuples in the brief — consent answers ``(user, answer, at)``, minutes
actions ``(owner, due, text)`` and topic answers ``(n, topic, text)`` — are named
tuples, so a plain tuple works too.  Wrong values (an unknown language or state, a
naive datetime, an unknown time zone) raise ``ValueError`` naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal, NamedTuple
from zoneinfo import ZoneInfo

from homeward.clock import time_zone

if TYPE_CHECKING:
    from homeward.care.timeline import TimelineLayout

__all__ = [
    "LANGUAGES",
    "Action",
    "CarePlanDocument",
    "ConsentAnswer",
    "ConsentLine",
    "Goal",
    "ItemLine",
    "MeetingLine",
    "MinutesAction",
    "MinutesDocument",
    "Participant",
    "Person",
    "SubGoal",
    "TopicAnswer",
]

Language = Literal["nb", "sv", "en"]
LANGUAGES: tuple[str, ...] = ("nb", "sv", "en")
CONSENT_STATES: tuple[str, ...] = ("pending", "given", "refused", "withdrawn")
ITEM_STATES: tuple[str, ...] = ("open", "done", "overdue")
TERM_KEYS: tuple[str, ...] = ("goal", "subgoal", "action", "responsible", "followup", "coordinator", "period")


# --- helpers ----------------------------------------------------------------------
def _freeze(obj: Any, name: str, convert: Any = None) -> None:
    """Store a list field as a tuple (converting each element if asked)."""
    value = getattr(obj, name)
    if value is None:
        value = ()
    if isinstance(value, (str, bytes)):
        raise ValueError(f"{type(obj).__name__}.{name}: must be a list, not a string")
    items = tuple(value)
    if convert is not None:
        items = tuple(convert(x) for x in items)
    object.__setattr__(obj, name, items)


def _aware(obj: Any, name: str, *, optional: bool = False) -> None:
    value = getattr(obj, name)
    if value is None and optional:
        return
    if not isinstance(value, datetime):
        raise ValueError(f"{type(obj).__name__}.{name}: must be a datetime (got {value!r})")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{type(obj).__name__}.{name}: must be timezone-aware (got a naive datetime)")


def _day(obj: Any, name: str) -> None:
    value = getattr(obj, name)
    if value is not None and (not isinstance(value, date) or isinstance(value, datetime)):
        raise ValueError(f"{type(obj).__name__}.{name}: must be a date or None (got {value!r})")


def _one_of(obj: Any, name: str, allowed: tuple[str, ...]) -> None:
    value = getattr(obj, name)
    if value not in allowed:
        raise ValueError(f"{type(obj).__name__}.{name}: must be one of {', '.join(allowed)} (got {value!r})")


def _zone(obj: Any, name: str) -> None:
    try:
        time_zone(getattr(obj, name))
    except ValueError as exc:
        raise ValueError(f"{type(obj).__name__}.{name}: {exc}") from None


def _unique(where: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for ident in ids:
        if ident in seen:
            raise ValueError(f"{where}: {ident!r} appears twice (ids must be unique)")
        seen.add(ident)


def _record(kind: type[Any]) -> Any:
    """Accept a named tuple, a plain tuple/list or a mapping for a small record."""

    def convert(value: Any) -> Any:
        if isinstance(value, kind):
            return value
        if isinstance(value, dict):
            return kind(**value)
        return kind(*value)

    return convert


def _instance(kind: type[Any], owner: str) -> Any:
    def check(value: Any) -> Any:
        if not isinstance(value, kind):
            raise ValueError(f"{owner}: expected {kind.__name__} (got {type(value).__name__})")
        return value

    return check


# --- the plan -----------------------------------------------------------------------
@dataclass(frozen=True)
class SubGoal:
    ref: str
    text: str


@dataclass(frozen=True)
class Action:
    """An action (insats / tiltak): who does what, from when to when."""

    ref: str
    owner: str  # a lane name or a user
    text: str
    start: date | None = None
    end: date | None = None

    def __post_init__(self) -> None:
        _day(self, "start")
        _day(self, "end")
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError(f"Action.end: {self.end} is before start {self.start} (action {self.ref!r})")


@dataclass(frozen=True)
class Goal:
    ref: str
    text: str
    subgoals: tuple[SubGoal, ...] = ()
    actions: tuple[Action, ...] = ()

    def __post_init__(self) -> None:
        _freeze(self, "subgoals", _instance(SubGoal, "Goal.subgoals"))
        _freeze(self, "actions", _instance(Action, "Goal.actions"))


@dataclass(frozen=True)
class Participant:
    user_id: str
    lane: str  # the lane's name, as people read it
    coordinator: bool = False


@dataclass(frozen=True)
class Person:
    """Someone a document names: by their display name in the room, their lane as their organisation, and
    their Matrix id in small print, for the record. A person whose name the bot does not know (they left the
    room) is shown by their id."""

    user_id: str
    name: str | None = None  # the display name in the room, as every client shows it
    organisation: str | None = None  # the lane's name

    @property
    def shown(self) -> str:
        """The name people read: the display name, or the id when there is none."""
        return self.name or self.user_id

    @property
    def named(self) -> bool:
        return bool(self.name) and self.name != self.user_id

    def text(self) -> str:
        """One line of plain text: "Anna Koordinator, Öppenvård (@anna:example.org)"."""
        if self.named:
            org = f", {self.organisation}" if self.organisation else ""
            return f"{self.shown}{org} ({self.user_id})"
        return f"{self.user_id} ({self.organisation})" if self.organisation else self.user_id

    def display(self) -> str:
        """How a record names them (FHIR `display`): "Anna Koordinator (Öppenvård)"; the id when there is no name."""
        if not self.named:
            return self.user_id
        return f"{self.shown} ({self.organisation})" if self.organisation else self.shown


def _people_by_id(people: tuple[Person, ...]) -> dict[str, Person]:
    return {person.user_id: person for person in people}


class ConsentAnswer(NamedTuple):
    user: str
    answer: str  # "given", "refused" or "withdrawn" (or the command word yes/no/revoke)
    at: datetime


@dataclass(frozen=True)
class ConsentLine:
    id: str
    title: str
    state: str  # pending | given | refused | withdrawn
    answers: tuple[ConsentAnswer, ...] = ()
    #: A consent another one covers by a pathway rule: that one's title, and the rule (then it is never asked).
    covered_by: str | None = None
    covered_rule: str | None = None

    def __post_init__(self) -> None:
        _one_of(self, "state", CONSENT_STATES)
        _freeze(self, "answers", _record(ConsentAnswer))
        for answer in self.answers:
            if not isinstance(answer.at, datetime) or answer.at.tzinfo is None:
                raise ValueError(f"ConsentLine.answers: 'at' must be a timezone-aware datetime (consent {self.id!r})")


@dataclass(frozen=True)
class ItemLine:
    """One task or notice of the pathway with its state in this case."""

    id: str
    phase: str  # the phase's title
    kind: str  # task | notice
    title: str
    lane: str  # the owning (task) or sending (notice) lane's name
    state: str  # open | done | overdue
    due: datetime | None = None
    #: Why a lane was late with it, as the lane said: (lane name, the reason in the pathway's words, its code).
    reasons: tuple[tuple[str, str, str], ...] = ()

    def __post_init__(self) -> None:
        _freeze(self, "reasons", tuple)
        _one_of(self, "kind", ("task", "notice"))
        _one_of(self, "state", ITEM_STATES)
        _aware(self, "due", optional=True)


@dataclass(frozen=True)
class MeetingLine:
    id: str
    title: str
    start: datetime | None  # None while the meeting has no date
    duration_minutes: int = 60
    participants: tuple[str, ...] = ()  # recommended participants, word for word
    topics: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _aware(self, "start", optional=True)
        if not isinstance(self.duration_minutes, int) or self.duration_minutes <= 0:
            raise ValueError(
                f"MeetingLine.duration_minutes: must be a positive whole number (got {self.duration_minutes!r})"
            )
        _freeze(self, "participants", str)
        _freeze(self, "topics", str)


@dataclass(frozen=True)
class CarePlanDocument:
    """The coordinated individual plan (SIP / individuell plan) of one case."""

    case_label: str
    pathway_id: str
    pathway_title: str
    language: Language
    timezone: str  # IANA, the pathway's
    country: str  # NO | SE
    plan_name: str  # "SIP – samordnad individuell plan", "Individuell plan"
    terms: dict[str, str]  # the pathway's words: goal, subgoal, action, responsible, followup, coordinator, period
    version: int
    changed_at: datetime
    changed_by: str
    generated_at: datetime
    goals: tuple[Goal, ...] = ()
    responsible: str | None = None  # the lane responsible for the plan
    followup: date | None = None
    participants: tuple[Participant, ...] = ()
    consents: tuple[ConsentLine, ...] = ()
    items: tuple[ItemLine, ...] = ()
    meetings: tuple[MeetingLine, ...] = ()
    # The plan period, where the team set one; otherwise the exports use the actions' dates.
    period_start: date | None = None
    period_end: date | None = None
    # The case's timeline (`care.timeline`), drawn into the HTML and PDF of a case export.
    timeline: TimelineLayout | None = None
    #: Everyone the plan names (members, who answered, who changed it), with their names and lanes.
    people: tuple[Person, ...] = ()
    #: What the last change did, in words ("Uppföljningsdatum: 2026-12-20"); "" for a plan never changed.
    change_note: str = ""
    # A closed case's review at its closing, as the room read it (Markdown, `messages.review`).
    review_markdown: str | None = None
    # The canonical URL (with |version) of the pathway's FHIR PlanDefinition the plan instantiates.
    pathway_canonical: str | None = None

    def __post_init__(self) -> None:
        _one_of(self, "language", LANGUAGES)
        _zone(self, "timezone")
        _aware(self, "changed_at")
        _aware(self, "generated_at")
        _day(self, "followup")
        _day(self, "period_start")
        _day(self, "period_end")
        if not isinstance(self.version, int) or self.version < 0:
            raise ValueError(f"CarePlanDocument.version: must be a whole number ≥ 0 (got {self.version!r})")
        terms = dict(self.terms or {})
        missing = [key for key in TERM_KEYS if key != "period" and not terms.get(key)]
        if missing:
            raise ValueError(f"CarePlanDocument.terms: missing {', '.join(missing)}")
        object.__setattr__(self, "terms", terms)
        _freeze(self, "goals", _instance(Goal, "CarePlanDocument.goals"))
        _freeze(self, "participants", _instance(Participant, "CarePlanDocument.participants"))
        _freeze(self, "consents", _instance(ConsentLine, "CarePlanDocument.consents"))
        _freeze(self, "items", _instance(ItemLine, "CarePlanDocument.items"))
        _freeze(self, "meetings", _instance(MeetingLine, "CarePlanDocument.meetings"))
        _freeze(self, "people", _instance(Person, "CarePlanDocument.people"))
        # Ids must be unique: the FHIR and iCalendar exports derive stable ids from them.
        _unique("CarePlanDocument.goals", [g.ref for g in self.goals])
        for goal in self.goals:
            _unique(f"Goal {goal.ref!r} subgoals", [s.ref for s in goal.subgoals])
        _unique("CarePlanDocument.consents", [c.id for c in self.consents])
        _unique("CarePlanDocument.items", [i.id for i in self.items])
        _unique("CarePlanDocument.meetings", [m.id for m in self.meetings])

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def term(self, key: str, default: str = "") -> str:
        return self.terms.get(key) or default

    def coordinators(self) -> list[Participant]:
        return [p for p in self.participants if p.coordinator]

    def person(self, user_id: str) -> Person:
        """Who `user_id` is, as the document names them (by id and lane if the document knows no name)."""
        known = _people_by_id(self.people).get(user_id)
        if known is not None:
            return known
        lane = next((p.lane for p in self.participants if p.user_id == user_id and p.lane not in ("", "—")), None)
        return Person(user_id, None, lane)

    def owner(self, owner: str) -> Person | None:
        """An action's owner when it is a person (`@user:server`); None for a lane (its name is the owner)."""
        return self.person(owner) if owner.startswith("@") else None

    def actions(self) -> list[tuple[Goal, Action]]:
        return [(goal, action) for goal in self.goals for action in goal.actions]

    def period(self) -> tuple[date | None, date | None]:
        """The plan period: as set, else from the earliest start to the latest end of the actions."""
        starts = [a.start for _, a in self.actions() if a.start is not None]
        ends = [a.end for _, a in self.actions() if a.end is not None]
        start = self.period_start or (min(starts) if starts else None)
        end = self.period_end or (max(ends) if ends else None)
        return start, end


# --- the minutes --------------------------------------------------------------------
class MinutesAction(NamedTuple):
    owner: str
    due: date | None
    text: str


class TopicAnswer(NamedTuple):
    n: int
    topic: str
    text: str


@dataclass(frozen=True)
class MinutesDocument:
    """The minutes of one meeting of a case."""

    case_label: str
    pathway_title: str
    language: Language
    timezone: str
    title: str  # the meeting's title
    start: datetime
    duration_minutes: int
    present: tuple[str, ...] = ()  # "who — lane", as the bot lists them
    notes: tuple[str, ...] = ()
    decisions: tuple[str, ...] = ()
    actions: tuple[MinutesAction, ...] = ()
    topic_answers: tuple[TopicAnswer, ...] = ()
    closed: bool = False
    version: int = 1
    changed_at: datetime | None = None
    changed_by: str = ""
    generated_at: datetime | None = None
    people: tuple[Person, ...] = ()

    def __post_init__(self) -> None:
        _one_of(self, "language", LANGUAGES)
        _zone(self, "timezone")
        _aware(self, "start")
        _freeze(self, "people", _instance(Person, "MinutesDocument.people"))
        _aware(self, "changed_at")
        _aware(self, "generated_at")
        if not isinstance(self.duration_minutes, int) or self.duration_minutes <= 0:
            raise ValueError(
                f"MinutesDocument.duration_minutes: must be a positive whole number (got {self.duration_minutes!r})"
            )
        _freeze(self, "present", str)
        _freeze(self, "notes", str)
        _freeze(self, "decisions", str)
        _freeze(self, "actions", _record(MinutesAction))
        _freeze(self, "topic_answers", _record(TopicAnswer))
        for action in self.actions:
            if action.due is not None and (not isinstance(action.due, date) or isinstance(action.due, datetime)):
                raise ValueError(f"MinutesDocument.actions: due must be a date or None (got {action.due!r})")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def person(self, user_id: str) -> Person:
        return _people_by_id(self.people).get(user_id) or Person(user_id)
