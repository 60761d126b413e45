"""Pathway definitions: the way home from hospital, as reviewable data.

A pathway file (``pathways/*.yaml``) encodes one regional discharge flowchart:
who the parties are (lanes), which dates drive the work, the phases with their
tasks and notices, the meetings, the consents and the words of the coordinated
plan.  Clinicians review the YAML; this module makes sure a file that loads is
internally consistent, so the rest of the bot can trust every id it finds.

The models know nothing about Matrix or SQL on purpose: care logic has to stay
testable and portable.  The file format is documented in ``pathways/README.md``.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import unicodedata
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import holidays
import yaml
from holidays.registry import EntityLoader
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from homeward.clock import time_zone

__all__ = [
    "REASON_CODES",
    "AckDue",
    "CarePlanTerms",
    "Clock",
    "ClockPoint",
    "Consent",
    "CoveredBy",
    "DelayReason",
    "DueRule",
    "Item",
    "Lane",
    "Meeting",
    "NamedDate",
    "Pathway",
    "PathwayError",
    "Phase",
    "Rate",
    "RateAmount",
    "Settings",
    "Topic",
    "configured_pathways",
    "default_pathways_dir",
    "fold",
    "load_pathway",
    "load_pathways",
    "pathway_file",
    "pathway_version",
]

# --- identifiers -------------------------------------------------------------
# Item, phase and consent ids are typed in chat ("!ack kallelse-sip"), so they are
# lowercase ascii words joined by "-".  Date and meeting ids are English and used
# in code, so they use "_".  Lane ids are a single word in the pathway's language.
ITEM_ID = r"^[a-z0-9]+(-[a-z0-9]+)*$"
SNAKE_ID = r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$"
LANE_ID = r"^[a-z]+$"
REASON_ID = r"^[a-z]{2,24}$"
CURRENCY = r"^[A-Z]{3}$"
TIME_OF_DAY = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
COUNTRY = r"^[A-Z]{2}$"

# Human wording for pattern errors; a regex means nothing to a clinician.
_PATTERN_HELP: dict[str, str] = {
    ITEM_ID: "must be lowercase ascii letters/digits joined by '-', e.g. 'kallelse-sip'",
    SNAKE_ID: "must be lowercase ascii letters/digits joined by '_', e.g. 'sip_meeting'",
    LANE_ID: "must be one lowercase ascii word without å/ä/ö/ø/æ, e.g. 'slutenvard'",
    REASON_ID: "must be one lowercase ascii word of 2-24 letters without å/ä/ö/ø/æ, e.g. 'utstyr'",
    CURRENCY: "must be a three-letter ISO 4217 currency code in quotes, e.g. 'NOK' or 'SEK'",
    TIME_OF_DAY: "must be a time of day 'HH:MM' in quotes, e.g. '16:00'",
    COUNTRY: "must be a two-letter ISO country code in quotes, e.g. 'NO' or 'SE'",
}

Role = Literal["family", "guardian", "child", "care"]
Unit = Literal["hours", "days", "working_days"]
NonEmpty = Annotated[str, Field(min_length=1)]


class PathwayError(Exception):
    """A pathway file cannot be used; the message has one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class _Problems(ValueError):
    """Cross-check failures as (relative path, message) pairs.

    Raised from model validators so that one validator can report several
    problems, each with its own precise path, instead of one vague sentence.
    """

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("\n".join(f"{p}: {m}" if p else m for p, m in problems))


class _Model(BaseModel):
    """Base for all pathway models: a misspelt field must be an error, not ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --- text folding for lane lookup --------------------------------------------
_FOLD_PLAIN = str.maketrans({"å": "a", "ä": "a", "ö": "o", "ø": "o", "æ": "ae"})
_FOLD_TRANSLIT = str.maketrans({"å": "aa", "ä": "ae", "ö": "oe", "ø": "oe", "æ": "ae"})


def fold(text: str) -> set[str]:
    """Return the lookup keys of a word: case-free, with and without diacritics.

    People type on phones without å/ä/ö/ø/æ, some write "slutenvard", others the
    Scandinavian fallback "slutenvaard"; both must find the same lane.
    """
    cleaned = " ".join(unicodedata.normalize("NFC", text).casefold().split())
    return {cleaned.translate(_FOLD_PLAIN), cleaned.translate(_FOLD_TRANSLIT)}


# --- building blocks ---------------------------------------------------------
class Lane(_Model):
    """A party in the flowchart (a swim lane); care lanes are professionals."""

    id: str = Field(pattern=LANE_ID, max_length=24)
    name: NonEmpty
    role: Role
    aliases: list[NonEmpty] = []

    def keys(self) -> set[str]:
        """All folded words that should find this lane."""
        found: set[str] = set()
        for word in [self.id, self.name, *self.aliases]:
            found |= fold(word)
        return found


class NamedDate(_Model):
    """A date that drives deadlines (admission, tentative discharge, meetings…)."""

    id: str = Field(pattern=SNAKE_ID, max_length=40)
    label: NonEmpty
    #: Words in the pathway's language that name this date in `!plan` too (`inskrivning` beside `admission`).
    aliases: list[NonEmpty] = []
    working_day_only: bool = False
    set_on_case_open: bool = False
    source: str | None = None

    def keys(self) -> set[str]:
        """All folded words that find this date."""
        found: set[str] = set()
        for word in [self.id, *self.aliases]:
            found |= fold(word)
        return found

    @model_validator(mode="after")
    def _rule_needs_source(self) -> NamedDate:
        if self.working_day_only and not self.source:
            raise _Problems([("source", "required when working_day_only is true (cite the rule)")])
        return self


class DueRule(_Model):
    """When something is due: relative to a named date or to another item's completion.

    Day units without ``at`` fall due at the end of the day.  Every rule cites its
    source so a reviewer can check it against the document or the law.
    """

    date: str | None = None
    item: str | None = None
    offset: int = Field(ge=0)
    unit: Unit
    direction: Literal["after", "before"] = "after"
    at: str | None = Field(default=None, pattern=TIME_OF_DAY)
    renew_on: list[str] = []
    source: NonEmpty

    @model_validator(mode="after")
    def _one_anchor(self) -> DueRule:
        problems: list[tuple[str, str]] = []
        if (self.date is None) == (self.item is None):
            problems.append(("", "give exactly one of 'date' (a named date) or 'item' (another item's completion)"))
        if self.at is not None and self.unit == "hours":
            problems.append(("at", "only allowed with unit days or working_days"))
        if problems:
            raise _Problems(problems)
        return self


class AckDue(_Model):
    """How long receivers have to acknowledge (kvittera) a notice, counted from sending."""

    offset: int = Field(ge=0)
    unit: Unit
    at: str | None = Field(default=None, pattern=TIME_OF_DAY)
    source: NonEmpty

    @model_validator(mode="after")
    def _at_needs_days(self) -> AckDue:
        if self.at is not None and self.unit == "hours":
            raise _Problems([("at", "only allowed with unit days or working_days")])
        return self


class Carries(_Model):
    """What a notice carries, so its message states it and the receiver need not open anything.

    The named dates it carries (e.g. the Inskrivningsmeddelande: the admission date and the
    preliminary discharge date); a date not set yet is said to be missing. Cited like a rule.
    """

    dates: list[str] = Field(min_length=1)
    source: NonEmpty


class Item(_Model):
    """One box of the flowchart: a task for one lane, or a notice to acknowledge.

    ``text`` keeps the source's own words; ``title`` is a short label for chat.
    """

    id: str = Field(pattern=ITEM_ID, max_length=40)
    kind: Literal["task", "notice"]
    title: NonEmpty
    text: NonEmpty
    mandatory: bool
    lane: str | None = None
    sender: str | None = None
    recipients: list[str] = []
    recipient_text: dict[str, str] = {}
    needs_consent: str | None = None
    asks_consent: str | None = None
    sets_date: str | None = None
    due: DueRule | None = None
    ack_due: AckDue | None = None
    carries: Carries | None = None
    meeting: str | None = None
    links: list[NonEmpty] = []
    note: str | None = None

    @model_validator(mode="after")
    def _shape_matches_kind(self) -> Item:
        problems: list[tuple[str, str]] = []
        if self.kind == "task":
            if self.lane is None:
                problems.append(("lane", "a task needs the lane that owns it"))
            for name in ("sender", "ack_due", "carries"):
                if getattr(self, name) is not None:
                    problems.append((name, "only a notice has this (this item is a task)"))
            for name in ("recipients", "recipient_text"):
                if getattr(self, name):
                    problems.append((name, "only a notice has this (this item is a task)"))
        else:
            if self.lane is not None:
                problems.append(("lane", "a notice has 'sender' and 'recipients', not 'lane'"))
            if self.sender is None:
                problems.append(("sender", "a notice needs the lane that sends it"))
            if not self.recipients:
                problems.append(("recipients", "a notice needs at least one recipient lane"))
            if len(set(self.recipients)) != len(self.recipients):
                problems.append(("recipients", "lists a lane twice"))
            if self.sender is not None and self.sender in self.recipients:
                problems.append(("recipients", f"the sender '{self.sender}' cannot acknowledge its own notice"))
            for lane in self.recipient_text:
                if lane not in self.recipients:
                    problems.append((f"recipient_text.{lane}", "is not one of the recipients"))
        if problems:
            raise _Problems(problems)
        return self


class Phase(_Model):
    """A stage of the flowchart, holding its items in the source's order."""

    id: str = Field(pattern=ITEM_ID, max_length=40)
    title: NonEmpty
    note: str | None = None
    items: list[Item] = Field(min_length=1)


class Topic(_Model):
    """An agenda line of a meeting, with its sub-lines as the source nests them."""

    title: NonEmpty
    subtopics: list[Topic] = []

    @model_validator(mode="before")
    @classmethod
    def _plain_line(cls, data: Any) -> Any:
        """Let YAML authors write a line without sub-lines as a plain string."""
        if isinstance(data, str):
            return {"title": data}
        return data

    def lines(self) -> list[str]:
        """This line and all sub-lines, depth first, as plain text."""
        found = [self.title]
        for sub in self.subtopics:
            found.extend(sub.lines())
        return found


class Meeting(_Model):
    """A meeting of the pathway with the source's recommended participants and topics."""

    id: str = Field(pattern=SNAKE_ID, max_length=40)
    title: NonEmpty
    date: str
    convened_by: str
    participants: list[NonEmpty] = []
    topics: list[Topic] = []
    phase: str
    note: str | None = None

    def topic_lines(self) -> list[str]:
        """Every agenda line, flattened, for display and search."""
        found: list[str] = []
        for topic in self.topics:
            found.extend(topic.lines())
        return found


class CoveredBy(_Model):
    """A pathway rule: another consent, already asked, covers this one, so it is never asked on its own.

    Örebro: the consent registered at admission (inskrivning) covers the SIP at discharge
    («Inget nytt samtycke registreras»). The rule is shown with its source in `!consents`.
    """

    consent: str = Field(pattern=ITEM_ID, max_length=40)  # the covering consent's id
    rule: NonEmpty  # the rule in the pathway's language, as `!consents` shows it
    source: NonEmpty


class Consent(_Model):
    """Something the family must agree to before information may be shared.

    ``covers`` names what the consent gates: ``export``, ``plan`` (making and
    sharing the coordinated plan) or ``notice:<item-id>``. ``purpose`` and
    ``receivers`` (lane ids) are what a parent reads first in the request.
    """

    id: str = Field(pattern=ITEM_ID, max_length=40)
    title: NonEmpty
    text: NonEmpty
    purpose: str | None = None  # why, in plain words: "so that … can be planned together"
    receivers: list[str] = []  # the lanes that receive the information
    answered_by: Literal["all_guardians", "any_guardian", "child_or_guardians"] = "all_guardians"
    covers: list[str] = []
    covered_by: CoveredBy | None = None
    source: NonEmpty
    quote: str | None = None


class CarePlanTerms(_Model):
    """The words of the coordinated plan (SIP / individuell plan) in the pathway's language."""

    name: NonEmpty
    text: str | None = None
    goal: NonEmpty
    subgoal: NonEmpty
    action: NonEmpty
    responsible: NonEmpty
    followup: NonEmpty
    coordinator: NonEmpty
    period: str | None = None
    source: NonEmpty


class ClockPoint(_Model):
    """What starts or stops a statutory clock: an item sent or done, or a named date being set.

    ``when: sent`` is a notice going out; ``when: done`` a task marked done, or a notice
    acknowledged (kvitterad) by every receiving lane.
    """

    item: str | None = None
    when: Literal["sent", "done"] | None = None
    date: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> ClockPoint:
        problems: list[tuple[str, str]] = []
        if (self.item is None) == (self.date is None):
            problems.append(("", "give exactly one of 'item' (with 'when') or 'date'"))
        elif self.item is not None and self.when is None:
            problems.append(("when", "required with 'item': sent or done"))
        elif self.date is not None and self.when is not None:
            problems.append(("when", "only with 'item' (a date counts from the day it is set to)"))
        if problems:
            raise _Problems(problems)
        return self


class RateAmount(_Model):
    """What one day past the limit costs in one calendar year (rates are set per year)."""

    year: int = Field(ge=2000, le=2100)
    amount: float = Field(gt=0)


class Rate(_Model):
    """What the municipality pays per day past a clock's limit, as the pathway's source gives it.

    ``unit`` is the source's word for the day paid for (``døgn``, ``vårddygn``). A day in a
    year without an amount is costed at the nearest earlier year's amount, and the figure
    says that it is an estimate; a pathway without a rate shows no cost at all.
    """

    currency: str = Field(pattern=CURRENCY)
    unit: NonEmpty
    amounts: list[RateAmount] = Field(min_length=1)
    source: NonEmpty
    note: str | None = None

    @model_validator(mode="after")
    def _years_in_order(self) -> Rate:
        years = [a.year for a in self.amounts]
        if years != sorted(set(years)):
            raise _Problems([("amounts", "list each year once, in increasing order")])
        return self

    def amount_for(self, year: int) -> tuple[float, int] | None:
        """(amount, the year whose amount it is) for a day in `year`: that year's, else the nearest earlier one."""
        found = [a for a in self.amounts if a.year <= year]
        if not found:
            return None
        return found[-1].amount, found[-1].year


class Clock(_Model):
    """A statutory clock: the days counted from an event (e.g. the patient declared ready to leave).

    ``limit`` is how many days may pass before the clock's consequence applies (the
    municipality starts paying); reaching it is a reminder to the coordinators. The first
    of the ``stop`` points to happen stops the clock. Every clock cites its source.
    ``rate``, optional: what each day past the limit costs, with its own source.
    """

    id: str = Field(pattern=ITEM_ID, max_length=40)
    label: NonEmpty
    start: ClockPoint
    counting: Literal["calendar_days", "working_days"]
    limit: int = Field(ge=0)
    stop: list[ClockPoint] = Field(min_length=1)
    source: NonEmpty
    note: str | None = None
    rate: Rate | None = None


#: The shared codes of delay reasons: each pathway says in its own words which of its reasons
#: is which, so that waits can be compared across pathways and regions (docs/EVENTS.md).
REASON_CODES: tuple[str, ...] = (
    "equipment",  # medical-technical equipment, consumables or aids not in place
    "staff",  # the people who will give the care are not in place
    "training",  # staff (or the family) not yet trained
    "home",  # the home not ready: adaptation, housing
    "decision",  # an application or administrative decision pending (vedtak, biståndsbeslut)
    "family",  # waiting for the family's decision or availability
    "medication",  # medicines or prescriptions
    "information",  # information or documentation from another party
    "other",
)
ReasonCode = Literal[
    "equipment", "staff", "training", "home", "decision", "family", "medication", "information", "other"
]


class DelayReason(_Model):
    """Why a step of the pathway was late, in the pathway's own words, with a shared `code`.

    ``id`` is the one word a lane replies with (``utstyr``); ``aliases`` are other words
    that find it (``utstyret``, with or without å/ä/ö/ø/æ). Every reason cites its source:
    the flowchart's words it stands for, or "Homeward" where the flowchart has none.
    """

    id: str = Field(pattern=REASON_ID)
    code: ReasonCode
    label: NonEmpty
    aliases: list[NonEmpty] = []
    source: NonEmpty

    def keys(self) -> set[str]:
        """All folded words that find this reason."""
        found: set[str] = set()
        for word in [self.id, *self.aliases]:
            found |= fold(word)
        return found


class Settings(_Model):
    """Product defaults that the source documents do not give."""

    default_ack_due: AckDue


# --- the pathway -------------------------------------------------------------
class Pathway(_Model):
    """One complete pathway definition; loading it proves every reference resolves."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=32)
    #: The version of this file, as its owners name it; the event log and the FHIR
    #: PlanDefinition carry it (without one: a digest of the content, `pathway_version`).
    version: str | None = Field(default=None, min_length=1, max_length=40)
    title: NonEmpty
    language: Literal["nb", "sv", "en"]
    country: str = Field(pattern=COUNTRY)
    timezone: str
    source: NonEmpty
    notes: list[NonEmpty] = []
    lanes: list[Lane] = Field(min_length=1)
    dates: list[NamedDate] = []
    phases: list[Phase] = Field(min_length=1)
    meetings: list[Meeting] = []
    consents: list[Consent] = []
    clocks: list[Clock] = []
    #: Why a step was late, as the overdue reminder asks its lane (care.delays).
    delay_reasons: list[DelayReason] = []
    plan: CarePlanTerms
    settings: Settings

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        """Deadlines are computed in local time, so the zone must exist."""
        time_zone(value)
        return value

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str) -> str:
        """Working days need the country's public holidays: the `holidays` package must have a calendar for it.

        Looked up in the package's registry, as `holidays.country_holidays` finds a country, without making the
        calendar: that imports every country's module (0.1-0.2 s and 8 MiB at start); `care.calendar` makes the
        calendar when a working day is first counted."""
        if not isinstance(getattr(holidays, value, None), EntityLoader):
            raise ValueError(f"no public-holiday calendar for country {value!r}")
        return value

    @model_validator(mode="after")
    def _references_resolve(self) -> Pathway:
        problems: list[tuple[str, str]] = []

        def unique(kind: str, ids: list[tuple[str, str]]) -> set[str]:
            seen: set[str] = set()
            for path, ident in ids:
                if ident in seen:
                    problems.append((path, f"duplicate {kind} id '{ident}'"))
                seen.add(ident)
            return seen

        lane_ids = unique("lane", [(f"lanes[{i}].id", x.id) for i, x in enumerate(self.lanes)])
        date_ids = unique("date", [(f"dates[{i}].id", x.id) for i, x in enumerate(self.dates)])
        phase_ids = unique("phase", [(f"phases[{i}].id", x.id) for i, x in enumerate(self.phases)])
        meeting_ids = unique("meeting", [(f"meetings[{i}].id", x.id) for i, x in enumerate(self.meetings)])
        consent_ids = unique("consent", [(f"consents[{i}].id", x.id) for i, x in enumerate(self.consents)])
        unique("clock", [(f"clocks[{i}].id", x.id) for i, x in enumerate(self.clocks)])
        unique("delay reason", [(f"delay_reasons[{i}].id", x.id) for i, x in enumerate(self.delay_reasons)])
        located = [
            (f"phases[{p}].items[{i}]", item)
            for p, phase in enumerate(self.phases)
            for i, item in enumerate(phase.items)
        ]
        item_ids = unique("item", [(f"{path}.id", item.id) for path, item in located])
        notices = {item.id for _, item in located if item.kind == "notice"}

        def ref(path: str, value: str | None, known: set[str], kind: str) -> None:
            if value is not None and value not in known:
                choices = ", ".join(sorted(known)) or "none defined"
                problems.append((path, f"unknown {kind} '{value}' (known: {choices})"))

        def words_unshared(kind: str, things: list[Any], path: str) -> None:
            """The words that find a lane or a date must not be shared, or the lookup would guess."""
            owner: dict[str, str] = {}
            for i, thing in enumerate(things):
                for key in sorted(thing.keys()):
                    if key in owner and owner[key] != thing.id:
                        problems.append((f"{path}[{i}]", f"'{key}' also finds {kind} '{owner[key]}'"))
                    owner.setdefault(key, thing.id)

        words_unshared("lane", list(self.lanes), "lanes")
        words_unshared("date", list(self.dates), "dates")
        words_unshared("delay reason", list(self.delay_reasons), "delay_reasons")
        if self.delay_reasons and not any(r.code == "other" for r in self.delay_reasons):
            problems.append(("delay_reasons", "needs a reason with code 'other', so no lane must pick a wrong one"))
        single_roles: tuple[Role, ...] = ("guardian", "child")
        for role in single_roles:
            if len(self.lanes_with_role(role)) > 1:
                problems.append(("lanes", f"at most one lane may have role '{role}'"))

        # Items.
        for path, item in located:
            ref(f"{path}.lane", item.lane, lane_ids, "lane")
            ref(f"{path}.sender", item.sender, lane_ids, "lane")
            for r, lane in enumerate(item.recipients):
                ref(f"{path}.recipients[{r}]", lane, lane_ids, "lane")
            ref(f"{path}.needs_consent", item.needs_consent, consent_ids, "consent")
            ref(f"{path}.asks_consent", item.asks_consent, consent_ids, "consent")
            ref(f"{path}.sets_date", item.sets_date, date_ids, "date")
            ref(f"{path}.meeting", item.meeting, meeting_ids, "meeting")
            if item.carries is not None:
                for r, date in enumerate(item.carries.dates):
                    ref(f"{path}.carries.dates[{r}]", date, date_ids, "date")
                if len(set(item.carries.dates)) != len(item.carries.dates):
                    problems.append((f"{path}.carries.dates", "lists a date twice"))
            if item.due is not None:
                ref(f"{path}.due.date", item.due.date, date_ids, "date")
                ref(f"{path}.due.item", item.due.item, item_ids, "item")
                if item.due.item == item.id:
                    problems.append((f"{path}.due.item", "an item cannot be due after its own completion"))
                for r, date in enumerate(item.due.renew_on):
                    ref(f"{path}.due.renew_on[{r}]", date, date_ids, "date")
            if item.kind == "notice" and item.needs_consent is not None and item.needs_consent in consent_ids:
                consent = self.consent(item.needs_consent)
                if f"notice:{item.id}" not in consent.covers:
                    problems.append(
                        (f"{path}.needs_consent", f"consent '{consent.id}' does not list 'notice:{item.id}' in covers")
                    )
        problems.extend(self._due_cycles(located))

        # Meetings.
        meeting_dates: dict[str, str] = {}
        for m, meeting in enumerate(self.meetings):
            path = f"meetings[{m}]"
            ref(f"{path}.date", meeting.date, date_ids, "date")
            ref(f"{path}.convened_by", meeting.convened_by, lane_ids, "lane")
            ref(f"{path}.phase", meeting.phase, phase_ids, "phase")
            if meeting.date in meeting_dates:
                problems.append((f"{path}.date", f"meeting '{meeting_dates[meeting.date]}' already uses this date"))
            meeting_dates.setdefault(meeting.date, meeting.id)

        # Consents: what they gate must exist, and both ends must agree.
        for c, consent in enumerate(self.consents):
            for r, lane in enumerate(consent.receivers):
                ref(f"consents[{c}].receivers[{r}]", lane, lane_ids, "lane")
            if consent.covered_by is not None:
                covering = consent.covered_by.consent
                ref(f"consents[{c}].covered_by.consent", covering, consent_ids - {consent.id}, "consent")
                if covering in consent_ids and covering != consent.id and self.consent(covering).covered_by is not None:
                    problems.append(
                        (
                            f"consents[{c}].covered_by.consent",
                            f"'{covering}' is covered itself; name the consent that is asked",
                        )
                    )
            for k, cover in enumerate(consent.covers):
                path = f"consents[{c}].covers[{k}]"
                if cover in ("export", "plan"):
                    continue
                if not cover.startswith("notice:"):
                    problems.append((path, f"must be 'export', 'plan' or 'notice:<item-id>' (got {cover!r})"))
                    continue
                target = cover.removeprefix("notice:")
                if target not in notices:
                    problems.append((path, f"'{target}' is not a notice of this pathway"))
                elif self.item(target).needs_consent != consent.id:
                    problems.append((path, f"notice '{target}' does not have needs_consent: {consent.id}"))

        # Clocks: what starts and stops them must exist and be able to happen.
        kinds = {item.id: item.kind for _, item in located}
        for c, clock in enumerate(self.clocks):
            path = f"clocks[{c}]"
            if clock.id in item_ids:
                problems.append((f"{path}.id", f"'{clock.id}' is also an item id; a clock needs its own id"))
            points = [(f"{path}.start", clock.start), *((f"{path}.stop[{s}]", p) for s, p in enumerate(clock.stop))]
            for where, point in points:
                ref(f"{where}.item", point.item, item_ids, "item")
                ref(f"{where}.date", point.date, date_ids, "date")
                if point.item in kinds and point.when == "sent" and kinds[point.item] != "notice":
                    problems.append((f"{where}.when", f"'{point.item}' is a task: only a notice is sent (use 'done')"))
            for s, point in enumerate(clock.stop):
                if point == clock.start:
                    problems.append(
                        (f"{path}.stop[{s}]", "is the same as the start: the clock would stop as it starts")
                    )

        if problems:
            raise _Problems(problems)
        return self

    @staticmethod
    def _due_cycles(located: list[tuple[str, Item]]) -> list[tuple[str, str]]:
        """Items due after each other in a circle could never fall due."""
        after = {item.id: item.due.item for _, item in located if item.due is not None and item.due.item}
        where = {item.id: path for path, item in located}
        problems: list[tuple[str, str]] = []
        reported: set[str] = set()
        for start in after:
            chain = [start]
            current = after.get(start)
            while current is not None and current not in chain:
                chain.append(current)
                current = after.get(current)
            if current == start and start not in reported:
                reported.update(chain)
                loop = " -> ".join([*chain, start])
                problems.append((f"{where[start]}.due.item", f"due rules form a circle: {loop}"))
        return problems

    # --- helpers the bot uses ----------------------------------------------
    def find_lane(self, text: str) -> Lane | None:
        """The lane a person means by ``text`` (id, name or alias; diacritics optional)."""
        wanted = fold(text)
        for lane in self.lanes:
            if wanted & lane.keys():
                return lane
        return None

    def find_date(self, text: str) -> NamedDate | None:
        """The named date a person means by ``text`` (its id or an alias in the pathway's language)."""
        wanted = fold(text)
        return next((date for date in self.dates if wanted & date.keys()), None)

    def lane(self, lane_id: str) -> Lane:
        """The lane with this id; KeyError if the pathway has none."""
        for lane in self.lanes:
            if lane.id == lane_id:
                return lane
        raise KeyError(f"pathway {self.id!r} has no lane {lane_id!r}")

    def lanes_with_role(self, role: Role) -> list[Lane]:
        """Lanes with this role, e.g. the guardian lane that answers consents."""
        return [lane for lane in self.lanes if lane.role == role]

    def items(self) -> list[tuple[Phase, Item]]:
        """Every item in source order, with the phase it belongs to."""
        return [(phase, item) for phase in self.phases for item in phase.items]

    def item(self, item_id: str) -> Item:
        """The item with this id; KeyError if the pathway has none."""
        for _, item in self.items():
            if item.id == item_id:
                return item
        raise KeyError(f"pathway {self.id!r} has no item {item_id!r}")

    def phase(self, phase_id: str) -> Phase:
        """The phase with this id; KeyError if the pathway has none."""
        for phase in self.phases:
            if phase.id == phase_id:
                return phase
        raise KeyError(f"pathway {self.id!r} has no phase {phase_id!r}")

    def date(self, date_id: str) -> NamedDate:
        """The named date with this id; KeyError if the pathway has none."""
        for date in self.dates:
            if date.id == date_id:
                return date
        raise KeyError(f"pathway {self.id!r} has no date {date_id!r}")

    def meeting(self, meeting_id: str) -> Meeting:
        """The meeting with this id; KeyError if the pathway has none."""
        for meeting in self.meetings:
            if meeting.id == meeting_id:
                return meeting
        raise KeyError(f"pathway {self.id!r} has no meeting {meeting_id!r}")

    def clock(self, clock_id: str) -> Clock:
        """The clock with this id; KeyError if the pathway has none."""
        for clock in self.clocks:
            if clock.id == clock_id:
                return clock
        raise KeyError(f"pathway {self.id!r} has no clock {clock_id!r}")

    def consent(self, consent_id: str) -> Consent:
        """The consent with this id; KeyError if the pathway has none."""
        for consent in self.consents:
            if consent.id == consent_id:
                return consent
        raise KeyError(f"pathway {self.id!r} has no consent {consent_id!r}")

    def find_reason(self, text: str) -> DelayReason | None:
        """The delay reason a person means by `text` (its id or an alias; diacritics optional)."""
        wanted = fold(text)
        return next((reason for reason in self.delay_reasons if wanted & reason.keys()), None)

    def reason(self, reason_id: str) -> DelayReason:
        """The delay reason with this id; KeyError if the pathway has none."""
        for reason in self.delay_reasons:
            if reason.id == reason_id:
                return reason
        raise KeyError(f"pathway {self.id!r} has no delay reason {reason_id!r}")


def pathway_version(pathway: Pathway) -> str:
    """The pathway's `version`, or, for a file without one, a digest of what it says (`sha256:` and 12 hex)."""
    if pathway.version:
        return pathway.version
    digest = hashlib.sha256(pathway.model_dump_json().encode("utf-8")).hexdigest()
    return f"sha256:{digest[:12]}"


# --- YAML reading ------------------------------------------------------------
#: libyaml's parser when PyYAML was built with it (10x faster than the pure-Python one: most of reading a pathway);
#: the constructor and the resolvers below are Python either way, so both read a file alike.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _YamlLoader(_SafeLoader):  # type: ignore[valid-type,misc]  # one of two bases, chosen at import
    """SafeLoader made safe for hand-edited files.

    YAML 1.1 reads ``country: NO`` as false and ``at: 16:00`` as the number 960,
    and silently keeps the last of two equal keys.  Clinicians will write all of
    these, so only true/false are booleans, only plain decimals are integers, and
    a repeated key is an error.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, (str, int, float, bool)):
                continue  # odd keys are left to the schema to reject
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping", node.start_mark, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_BOOL_TAG = "tag:yaml.org,2002:bool"
_INT_TAG = "tag:yaml.org,2002:int"
_YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_BOOL_TAG, _INT_TAG)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_YamlLoader.add_implicit_resolver(_BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_YamlLoader.add_implicit_resolver(_INT_TAG, re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789"))


def _read_yaml(path: Path) -> Any:
    """Parse one file, turning syntax errors into a PathwayError with the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PathwayError([f"{path.name}: cannot read file: {exc}"]) from None
    try:
        return yaml.load(text, Loader=_YamlLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        what = f"{exc.problem} ({exc.context})" if exc.context else str(exc.problem)
        raise PathwayError([f"{path.name}: {where}: YAML syntax error: {what}"]) from None
    except yaml.YAMLError as exc:
        raise PathwayError([f"{path.name}: YAML error: {exc}"]) from None


# --- turning pydantic errors into one precise line each ----------------------
def _join(base: str, tail: str) -> str:
    if not tail:
        return base
    if not base or tail.startswith("["):
        return base + tail
    return f"{base}.{tail}"


def _location(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path = _join(path, f"[{part}]" if isinstance(part, int) else str(part))
    return path


def _short(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _all_field_names() -> list[str]:
    names: set[str] = set()
    for model in (
        Pathway,
        Lane,
        NamedDate,
        DueRule,
        AckDue,
        Item,
        Phase,
        Topic,
        Meeting,
        Consent,
        Clock,
        ClockPoint,
        Rate,
        RateAmount,
        DelayReason,
        CarePlanTerms,
        Settings,
    ):
        names.update(model.model_fields)
    return sorted(names)


def _describe(error: ErrorDetails) -> str:
    """A sentence a pathway author understands, instead of pydantic's wording."""
    kind = error["type"]
    ctx = error.get("ctx", {})
    got = error.get("input")
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        field = str(error["loc"][-1]) if error["loc"] else ""
        guess = difflib.get_close_matches(field, _all_field_names(), n=1)
        hint = f" (did you mean '{guess[0]}'?)" if guess else ""
        return f"unknown field{hint}"
    if kind == "literal_error":
        choices = ", ".join(re.findall(r"'([^']*)'", str(ctx.get("expected", ""))))
        return f"must be one of {choices} (got {_short(got)})"
    if kind == "string_pattern_mismatch":
        help_text = _PATTERN_HELP.get(str(ctx.get("pattern")), f"must match {ctx.get('pattern')}")
        return f"{help_text} (got {_short(got)})"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind in ("string_too_short", "too_short"):
        return "must not be empty"
    if kind == "string_type":
        return f"must be text (got {_short(got)}; put it in quotes)"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"must be a whole number (got {_short(got)})"
    if kind in ("bool_type", "bool_parsing"):
        return f"must be true or false (got {_short(got)})"
    if kind == "greater_than_equal":
        return f"must be {ctx.get('ge')} or more (got {_short(got)})"
    if kind == "greater_than":
        return f"must be more than {ctx.get('gt')} (got {_short(got)})"
    if kind == "less_than_equal":
        return f"must be {ctx.get('le')} or less (got {_short(got)})"
    if kind in ("float_type", "float_parsing"):
        return f"must be a number (got {_short(got)})"
    if kind == "list_type":
        return f"must be a list (got {_short(got)})"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"must be a mapping of fields (got {_short(got)})"
    return f"{error['msg']} (got {_short(got)})"


def _error_lines(file_name: str, exc: ValidationError) -> list[str]:
    lines: list[str] = []
    for error in exc.errors():
        base = _location(error["loc"])
        found = error.get("ctx", {}).get("error")
        if isinstance(found, _Problems):
            for tail, message in found.problems:
                lines.append(f"{file_name}: {_join(base, tail) or '(top level)'}: {message}")
        else:
            lines.append(f"{file_name}: {base or '(top level)'}: {_describe(error)}")
    return lines


# --- loading -----------------------------------------------------------------
def load_pathway(path: Path) -> Pathway:
    """Read and check one pathway file; raise PathwayError listing every problem."""
    path = Path(path)
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise PathwayError([f"{path.name}: (top level): must be a mapping of pathway fields"])
    try:
        pathway = Pathway.model_validate(data)
    except ValidationError as exc:
        raise PathwayError(_error_lines(path.name, exc)) from None
    if pathway.id != path.stem:
        raise PathwayError([f"{path.name}: id: must match the file name '{path.stem}' (got {pathway.id!r})"])
    return pathway


def load_pathways(directory: Path) -> dict[str, Pathway]:
    """Load every ``*.yaml`` in a directory, keyed by id; report all bad files at once."""
    directory = Path(directory)
    found: dict[str, Pathway] = {}
    problems: list[str] = []
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise PathwayError([f"{directory}: no pathway files (*.yaml)"])
    for file in files:
        try:
            pathway = load_pathway(file)
        except PathwayError as exc:
            problems.extend(exc.problems)
            continue
        found[pathway.id] = pathway
    if problems:
        raise PathwayError(problems)
    return found


def configured_pathways(extra: Path | None) -> dict[str, Pathway]:
    """The bundled pathways, with the files of `extra` (the `pathways_dir` setting) added or overriding by id."""
    found = load_pathways(default_pathways_dir())
    if extra is not None:
        found.update(load_pathways(extra))
    return found


def pathway_file(pathway_id: str, extra: Path | None) -> Path:
    """The file a configured pathway was read from: `extra` (the `pathways_dir` setting) overrides the bundled one."""
    if extra is not None and (Path(extra) / f"{pathway_id}.yaml").is_file():
        return Path(extra) / f"{pathway_id}.yaml"
    return default_pathways_dir() / f"{pathway_id}.yaml"


def default_pathways_dir() -> Path:
    """The pathways shipped with Homeward (package data of ``homeward.pathways``)."""
    return Path(str(resources.files("homeward.pathways")))
