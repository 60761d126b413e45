"""A child's case as the care logic sees it: who is on the team, which dates are set,
what is done, what is due, and who may acknowledge what.

Pure: the store loads a `CaseView`, these functions decide, the store records. Every
refusal is a `Refusal` with a catalog key, so the bot can say it in the room's language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import lru_cache
from typing import Literal

from homeward.care.calendar import WorkingCalendar
from homeward.care.deadlines import resolve_due
from homeward.care.pathway import Item, Lane, Pathway, Phase
from homeward.care.refusal import Refusal

ItemState = Literal["open", "done", "overdue"]
CaseState = Literal["open", "closed"]
HOLIDAY_LANGUAGES = {"nb": "no", "sv": "sv", "en": "en_US"}  # the `holidays` package's language codes


@lru_cache(maxsize=32)
def calendar_for(country: str, timezone: str, language: str) -> WorkingCalendar:
    """One calendar per country, zone and language: building one loads the holiday tables (~0.4 ms)."""
    return WorkingCalendar(country, timezone, language)


@dataclass(frozen=True)
class Membership:
    user_id: str
    lane: str | None
    coordinator: bool


@dataclass(frozen=True)
class ConsentRound:
    """Who must answer one consent, fixed when it was asked (`care.consent`).

    `asked`: the members of its answering lanes when the round began; `added`: whoever was
    put into those lanes since. Round 1 begins at the first request; a new round begins
    when someone asked leaves the answering lanes before the consent was given (or when
    `!settings consent` changes who answers): then only answers given since count.
    """

    consent_id: str
    number: int
    started_at: datetime
    asked: frozenset[str]
    added: frozenset[str] = frozenset()

    @property
    def askees(self) -> frozenset[str]:
        return self.asked | self.added


@dataclass(frozen=True)
class Ack:
    """One lane's acknowledgement of an item (for a task: the owner lane's "done")."""

    lane: str
    user_id: str
    at: datetime
    on_behalf: bool = False
    note: str | None = None


@dataclass(frozen=True)
class GivenReason:
    """Why one lane was late with one item, as it (or a coordinator for it) said: the latest answer counts."""

    item_id: str
    lane: str
    reason: str  # the pathway's reason id (`care.pathway.DelayReason`)
    code: str  # its shared code when it was given
    user_id: str
    at: datetime
    on_behalf: bool = False


@dataclass
class ItemRecord:
    """What has happened to one item of the case."""

    sent_at: datetime | None = None
    sent_by: str | None = None
    assigned_to: str | None = None
    acks: list[Ack] = field(default_factory=list)


@dataclass(frozen=True)
class ExtraTask:
    """A task the team added (an action from the minutes): a task like the pathway's, with a fixed due time."""

    item: Item
    phase_id: str
    due: datetime | None


@dataclass
class CaseView:
    """Everything the care logic needs about one case, loaded in one go."""

    pathway: Pathway
    label: str
    phase_id: str
    dates: dict[str, date | datetime]
    members: dict[str, Membership]
    records: dict[str, ItemRecord]
    extra: dict[str, ExtraTask] = field(default_factory=dict)
    #: A closed case keeps everything but wants nothing more: no reminders, no changes until reopened.
    state: CaseState = "open"
    closed_at: datetime | None = None
    closed_reason: str | None = None
    #: Why each lane was late with each item, (item id, lane id) → the latest answer (care.delays).
    reasons: dict[tuple[str, str], GivenReason] = field(default_factory=dict)

    @property
    def closed(self) -> bool:
        return self.state == "closed"

    #: The young person answers their own consents where the pathway allows it
    #: (a coordinator's setting; default: the guardians).
    child_answers: bool = False
    #: Each asked consent's current round: who must answer it (by consent id; none for one never asked).
    consent_rounds: dict[str, ConsentRound] = field(default_factory=dict)

    def items(self) -> list[tuple[Phase, Item]]:
        """The pathway's items and the team's added tasks, phase by phase."""
        found: list[tuple[Phase, Item]] = []
        for phase in self.pathway.phases:
            found.extend((phase, item) for item in phase.items)
            found.extend((phase, extra.item) for extra in self.extra.values() if extra.phase_id == phase.id)
        return found

    def item(self, item_id: str) -> Item:
        if item_id in self.extra:
            return self.extra[item_id].item
        return self.pathway.item(item_id)

    def phase_items(self) -> list[Item]:
        """The items of the current phase, added tasks included."""
        return [item for phase, item in self.items() if phase.id == self.phase_id]

    def record(self, item_id: str) -> ItemRecord:
        """What happened to an item so far (an empty record if nothing has); never changes the view."""
        return self.records.get(item_id) or ItemRecord()

    @property
    def phase(self) -> Phase:
        return self.pathway.phase(self.phase_id)

    def calendar(self) -> WorkingCalendar:
        """The pathway's working days, with holiday names in the pathway's language."""
        return calendar_for(
            self.pathway.country, self.pathway.timezone, HOLIDAY_LANGUAGES.get(self.pathway.language, "en_US")
        )

    def members_of(self, lane_id: str) -> list[str]:
        return sorted(m.user_id for m in self.members.values() if m.lane == lane_id)

    def coordinators(self) -> list[str]:
        return sorted(m.user_id for m in self.members.values() if m.coordinator)


# -- states and due times --------------------------------------------------------------


def lanes_to_acknowledge(item: Item) -> list[str]:
    """The lanes whose acknowledgement makes the item done."""
    return list(item.recipients) if item.kind == "notice" else [item.lane or ""]


def missing_lanes(view: CaseView, item: Item) -> list[str]:
    done = {a.lane for a in view.record(item.id).acks}
    return [lane for lane in lanes_to_acknowledge(item) if lane not in done]


def done_at(view: CaseView, item: Item) -> datetime | None:
    """When the item became done: the last of the needed acknowledgements."""
    if missing_lanes(view, item):
        return None
    acks = view.record(item.id).acks
    return max((a.at for a in acks), default=None)


def completed_at(view: CaseView, item_id: str) -> datetime | None:
    """The anchor for rules "relative to another item": a notice counts from its sending."""
    item = view.item(item_id)
    if item.kind == "notice":
        return view.record(item_id).sent_at
    return done_at(view, item)


def due_at(view: CaseView, item: Item, calendar: WorkingCalendar | None = None) -> datetime | None:
    """When the item is due, or None while its anchor (a date, another item) is unknown."""
    if item.id in view.extra:
        return view.extra[item.id].due
    calendar = calendar or view.calendar()
    record = view.record(item.id)
    if item.kind == "notice" and record.sent_at is not None:
        return ack_due_at(view, item, record.sent_at, calendar)
    return rule_due_at(view, item, calendar)


def ack_due_at(view: CaseView, item: Item, sent_at: datetime, calendar: WorkingCalendar | None = None) -> datetime:
    """By when the receivers must acknowledge a notice sent at `sent_at` (its `ack_due`, or the pathway's default)."""
    rule = item.ack_due or view.pathway.settings.default_ack_due
    return resolve_due(sent_at, rule.offset, rule.unit, "after", _at(rule.at), calendar or view.calendar())


def rule_due_at(view: CaseView, item: Item, calendar: WorkingCalendar | None = None) -> datetime | None:
    """When the item's own `due` rule falls (for a notice: when it must be sent), whatever has happened since."""
    if item.id in view.extra:
        return view.extra[item.id].due
    rule = item.due
    if rule is None:
        return None
    anchor = view.dates.get(rule.date) if rule.date else completed_at(view, rule.item or "")
    if anchor is None:
        return None
    return resolve_due(anchor, rule.offset, rule.unit, rule.direction, _at(rule.at), calendar or view.calendar())


def _at(text: str | None) -> time | None:
    return time.fromisoformat(text) if text else None


def item_state(view: CaseView, item: Item, now: datetime, calendar: WorkingCalendar | None = None) -> ItemState:
    if not missing_lanes(view, item):
        return "done"
    due = due_at(view, item, calendar)
    return "overdue" if due is not None and now > due else "open"


# -- who may do what ---------------------------------------------------------------------


@dataclass(frozen=True)
class AckDecision:
    lane: str
    on_behalf: bool


def decide_ack(
    view: CaseView,
    item: Item,
    user_id: str,
    lane_hint: str | None = None,
    *,
    own_lane_only: bool = False,
) -> AckDecision:
    """Which lane `user_id` acknowledges for; a Refusal naming who can, otherwise.

    `own_lane_only`: the acknowledgement came as a ✅ / 👍 reaction, which counts only for
    the reacting person's own lane: a coordinator acts on behalf of another lane only by
    typing `!ack <item> <lane>`, never by a reaction (unencrypted, and easy to give by accident).
    """
    member = view.members.get(user_id)
    if member is None:
        raise Refusal("care.not_a_member")
    record = view.record(item.id)
    if item.kind == "notice" and record.sent_at is None:
        raise Refusal("care.notice_not_sent", item=item.id, sender=_lane_name(view, item.sender or ""))
    missing = missing_lanes(view, item)
    if not missing:
        raise Refusal("care.already_done", item=item.id)
    own = [lane for lane in missing if acts_for(view, member, lane)]
    if own and (lane_hint is None or lane_hint in own):
        return AckDecision(lane_hint or own[0], on_behalf=False)
    if member.coordinator and own_lane_only:
        raise Refusal("care.reaction_own_lane_only", item=item.id, lanes=_lane_names(view, missing))
    if member.coordinator:
        if lane_hint is not None:
            if lane_hint not in missing:
                raise Refusal("care.lane_not_waiting", item=item.id, lanes=_lane_names(view, missing))
            return AckDecision(lane_hint, on_behalf=True)
        if len(missing) == 1:
            return AckDecision(missing[0], on_behalf=True)
        raise Refusal("care.say_which_lane", item=item.id, lanes=", ".join(missing))
    if member.lane is not None and member.lane in lanes_to_acknowledge(item) and member.lane not in missing:
        raise Refusal("care.lane_already_acked", item=item.id)
    raise Refusal("care.wrong_lane_for_ack", item=item.id, lanes=_lane_names(view, missing))


def ack_is_redundant(view: CaseView, item: Item, user_id: str) -> bool:
    """A ✅ on a sent notice that every lane the reacting person acts for has acknowledged already (or
    that nobody still owes): nothing to do, and nothing to say — the command form still answers."""
    member = view.members.get(user_id)
    if member is None or view.record(item.id).sent_at is None:
        return False
    missing = missing_lanes(view, item)
    if not missing:
        return True
    mine = [lane for lane in lanes_to_acknowledge(item) if acts_for(view, member, lane)]
    return bool(mine) and not any(lane in missing for lane in mine)


def acts_for(view: CaseView, member: Membership, lane_id: str) -> bool:
    """Whether a member acts for a lane: their own, and guardians (or the young person) for the family."""
    if member.lane is None:
        return False
    if member.lane == lane_id:
        return True
    own_role = view.pathway.lane(member.lane).role
    return own_role in ("guardian", "child") and view.pathway.lane(lane_id).role == "family"


def decide_send(view: CaseView, item: Item, user_id: str) -> bool:
    """Whether `user_id` may send the notice; True when a coordinator sends on behalf."""
    if item.kind != "notice":
        raise Refusal("care.not_a_notice", item=item.id)
    member = view.members.get(user_id)
    if member is None:
        raise Refusal("care.not_a_member")
    if view.record(item.id).sent_at is not None:
        raise Refusal("care.already_sent", item=item.id)
    if acts_for(view, member, item.sender or ""):
        return False
    if member.coordinator:
        return True
    raise Refusal("care.wrong_lane_for_send", item=item.id, lane=_lane_name(view, item.sender or ""))


def phase_blockers(view: CaseView) -> list[Item]:
    """Mandatory items of the current phase that are not done: they hold the phase."""
    return [i for i in view.phase_items() if i.mandatory and missing_lanes(view, i)]


def close_blockers(view: CaseView) -> list[Item]:
    """Mandatory items of any phase that are not done: they hold the closing of the case.

    A case closed before the end of its pathway leaves the later phases' mandatory items
    open, so closing early needs `force` and a reason, like moving past an open phase.
    """
    return [item for _, item in view.items() if item.mandatory and missing_lanes(view, item)]


def next_phase(view: CaseView) -> Phase | None:
    phases = view.pathway.phases
    index = [p.id for p in phases].index(view.phase_id)
    return phases[index + 1] if index + 1 < len(phases) else None


def find_item(view: CaseView, text: str) -> Item:
    """The item with this id (case-insensitive), or a Refusal listing near matches."""
    wanted = text.strip().lower()
    for _, item in view.items():
        if item.id == wanted:
            return item
    near = [i.id for _, i in view.items() if wanted[:4] and i.id.startswith(wanted[:4])]
    if not near:
        raise Refusal("care.unknown_item", item=text)  # no "Similar: —" when nothing is
    raise Refusal("care.unknown_item_near", item=text, near=", ".join(near[:5]))


def find_lane(view: CaseView, text: str) -> Lane:
    lane = view.pathway.find_lane(text)
    if lane is None:
        raise Refusal("care.unknown_lane", lane=text, lanes=", ".join(known.id for known in view.pathway.lanes))
    return lane


def _lane_name(view: CaseView, lane_id: str) -> str:
    return view.pathway.lane(lane_id).name


def _lane_names(view: CaseView, lane_ids: list[str]) -> str:
    return ", ".join(_lane_name(view, lane) for lane in lane_ids)
