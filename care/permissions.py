"""Who may run a command: the kinds of rule a command declares on its handler.

Every command names its rule where it is registered (`@command(..., rule=COORDINATOR)`):
`!help` lists, and every refusal is decided, from that declaration. Kinds:
- anyone: any user who can talk to the bot (in a care room, only members);
- member: a member of the care room's case (with a lane, or a coordinator);
- coordinator: a member with the coordinator flag.
`roles`, when given, limits a rule to members whose lane has one of those roles
(family, guardian, child, care) — coordinators included: nobody consents on a family's behalf.
Finer care rules (which lane acknowledges what) live in `care.case`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from homeward.care.case import Membership

RuleKind = Literal["anyone", "member", "coordinator"]


@dataclass(frozen=True)
class Rule:
    kind: RuleKind
    roles: frozenset[str] | None = None


ANYONE = Rule("anyone")
MEMBER = Rule("member")
COORDINATOR = Rule("coordinator")
#: Only guardians (and the young person, where the pathway lets them) answer for the child.
FAMILY_ANSWERS = Rule("member", frozenset({"guardian", "child"}))


def allowed(rule: Rule, member: Membership | None, lane_role: str | None) -> bool:
    """Whether a user (None: not a member of the case) may run a command with this rule."""
    if rule.kind == "anyone":
        return True
    if member is None:
        return False
    if rule.roles is not None:
        # A rule limited to roles holds for coordinators too: a coordinator cannot consent for a family.
        return lane_role in rule.roles
    if member.coordinator:
        return True
    return rule.kind != "coordinator"


def refusal_key(rule: Rule, member: Membership | None) -> str:
    """The catalog key that explains a refusal of `allowed`."""
    if member is None:
        return "permission.not_member"
    if rule.kind == "coordinator":
        return "permission.coordinators_only"
    return "permission.wrong_role"
