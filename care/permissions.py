"""Who may run a command: the kinds of rule a command declares on its handler.

Every command names its rule where it is registered (`@command(..., rule=COORDINATOR)`):
`!help` lists, and every refusal is decided, from that declaration. Kinds:
- anyone: any user who can talk to the bot (in a care room, only members);
- opener: a person the configuration names in `case_openers` (who may open a case);
- member: a member of the care room's case (with a lane, or a coordinator);
- coordinator: a member with the coordinator flag.
`roles`, when given, limits a rule to members whose lane has one of those roles
(family, guardian, child, care) — coordinators included: nobody consents on a family's behalf —
unless `or_coordinator` lets coordinators in too (the care team's minutes and exports).
`without_coordinator`, when given, lets members of lanes with those roles run a
coordinators' command while the case has no coordinator at all: so that a case whose
last coordinator left can name a new one (`!role`), and is never stuck.
Finer care rules (which lane acknowledges what, who may be put in which lane) live in
`care.case` and `care.team`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from homeward.care.case import Membership

RuleKind = Literal["anyone", "opener", "member", "coordinator"]


@dataclass(frozen=True)
class Rule:
    kind: RuleKind
    roles: frozenset[str] | None = None
    without_coordinator: frozenset[str] | None = None
    #: With `roles`: coordinators may run it too, whatever their lane (the care team's own work).
    or_coordinator: bool = False


ANYONE = Rule("anyone")
MEMBER = Rule("member")
COORDINATOR = Rule("coordinator")
#: Only the people the configuration names in `case_openers`.
CASE_OPENER = Rule("opener")
#: Coordinators; while the case has none, the members of the care lanes (to name one).
COORDINATOR_OR_CARE_WITHOUT_ONE = Rule("coordinator", without_coordinator=frozenset({"care"}))
#: The care team's own work — minutes, exports: members of the care lanes, and coordinators (not the family).
CARE_TEAM = Rule("member", frozenset({"care"}), or_coordinator=True)
#: Only guardians (and the young person, where the pathway lets them) answer for the child.
FAMILY_ANSWERS = Rule("member", frozenset({"guardian", "child"}))


@dataclass(frozen=True)
class Asker:
    """What a rule needs to know about the person asking."""

    member: Membership | None  # their membership of the case (None: not a member, or no case here)
    lane_role: str | None = None  # the role of their lane, if they have one
    case_opener: bool = False  # named in the configuration's `case_openers`
    case_has_coordinator: bool = True


def allowed(rule: Rule, who: Asker) -> bool:
    """Whether this person may run a command with this rule."""
    if rule.kind == "anyone":
        return True
    if rule.kind == "opener":
        return who.case_opener
    member = who.member
    if member is None:
        return False
    if rule.roles is not None:
        # A rule limited to roles holds for coordinators too: a coordinator cannot consent for a family.
        return who.lane_role in rule.roles or (rule.or_coordinator and member.coordinator)
    if member.coordinator:
        return True
    if rule.kind == "coordinator":
        return (
            rule.without_coordinator is not None
            and not who.case_has_coordinator
            and who.lane_role in rule.without_coordinator
        )
    return True


def refusal_key(rule: Rule, who: Asker) -> str:
    """The catalog key that explains a refusal of `allowed`."""
    if rule.kind == "opener":
        return "permission.not_case_opener"
    if who.member is None:
        return "permission.not_member"
    if rule.kind == "coordinator":
        return "permission.coordinators_only"
    return "permission.wrong_role"
