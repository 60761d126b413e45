"""Who may run which command: the one permission table.

`!help` lists, and every refusal is decided, from this table. A command missing from it
is refused to everyone (fail closed); a unit test keeps every registered command in it.

Kinds of rule:
- anyone: any user who can talk to the bot (in a care room, only members — see below);
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

PERMISSIONS: dict[str, Rule] = {
    "help": ANYONE,
    "ping": ANYONE,
    "pathways": ANYONE,
    "case new": ANYONE,
    "team": MEMBER,
    "status": MEMBER,
    "plan": MEMBER,  # listing the dates; setting one needs "plan set"
    "plan set": COORDINATOR,
    "ack": MEMBER,  # which lane may acknowledge which item: care.case.decide_ack
    "send": MEMBER,  # which lane may send which notice: care.case.decide_send
    "invite": COORDINATOR,
    "role": COORDINATOR,
    "assign": COORDINATOR,
    "phase next": COORDINATOR,
    "settings reactions": COORDINATOR,
    "settings quiet": COORDINATOR,
    "remind": MEMBER,
    "snooze": MEMBER,  # only for the caller's own lane: commands.handlers.reminding
    "reminders": MEMBER,
    "audit": COORDINATOR,
    "export": MEMBER,  # gated by the consent that covers exports (care.consent.require_consent)
    "plan show": MEMBER,
    "meeting new": COORDINATOR,
    "minutes": MEMBER,  # the team writes the minutes together; closing and reopening are recorded
    "plan goal": COORDINATOR,
    "plan subgoal": COORDINATOR,
    "plan action": COORDINATOR,
    "plan responsible": COORDINATOR,
    "plan followup": COORDINATOR,
    "plan remove": COORDINATOR,
    "consents": MEMBER,
    "consent ask": COORDINATOR,
    # Only guardians (and the young person, where the pathway lets them) answer for the child.
    "consent yes": Rule("member", frozenset({"guardian", "child"})),
    "consent no": Rule("member", frozenset({"guardian", "child"})),
    "consent revoke": Rule("member", frozenset({"guardian", "child"})),
}


def allowed(command: str, member: Membership | None, lane_role: str | None) -> bool:
    """Whether a user (None: not a member of the case) may run `command`."""
    rule = PERMISSIONS.get(command)
    if rule is None:
        return False
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


def refusal_key(command: str, member: Membership | None) -> str:
    """The catalog key that explains a refusal of `allowed`."""
    rule = PERMISSIONS.get(command)
    if rule is None:
        return "permission.unlisted"
    if member is None:
        return "permission.not_member"
    if rule.kind == "coordinator":
        return "permission.coordinators_only"
    return "permission.wrong_role"
