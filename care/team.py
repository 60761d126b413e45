"""Who may be placed in which lane, and who keeps a case going: the rules of `!invite` and `!role`.

Pure. The rules, each a `Refusal` the room reads in its language:
- nobody answers consent and coordinates at once: a guardian or child lane never carries
  the coordinator flag (a coordinator could otherwise answer the family's consent);
- a coordinator cannot put themselves into the family's lanes (family, guardian, child):
  nobody takes the family's part on their own say-so;
- the last coordinator cannot give the flag up: a case never silently loses the person
  who runs it (when the last one leaves the room, the care lanes are asked to name one);
- while a case has no coordinator, a member of a care lane may run `!role` for one thing
  only: naming a coordinator in a care lane (themselves included).
"""

from __future__ import annotations

from homeward.care.case import CaseView
from homeward.care.pathway import Lane
from homeward.care.refusal import Refusal

#: Lanes whose members answer consent.
CONSENT_ROLES = frozenset({"guardian", "child"})
#: Lanes that take the family's part.
FAMILY_ROLES = frozenset({"family", "guardian", "child"})


def check_placement(view: CaseView, actor: str, user_id: str, lane: Lane, coordinator: bool) -> None:
    """Refuse placing `user_id` in `lane` (with or without the coordinator flag), by `actor`, when a rule forbids it."""
    if coordinator and lane.role in CONSENT_ROLES:
        raise Refusal("team.consent_lane_not_coordinator", lane=lane.name)
    if actor == user_id and lane.role in FAMILY_ROLES:
        raise Refusal("team.not_yourself_into_family", lane=lane.name)
    before = view.members.get(user_id)
    if before is not None and before.coordinator and not coordinator and view.coordinators() == [user_id]:
        raise Refusal("team.last_coordinator")
    acting = view.members.get(actor)
    if acting is not None and not acting.coordinator and not (coordinator and lane.role == "care"):
        # Only reachable while the case has no coordinator (the command's rule): name one, nothing else.
        raise Refusal("team.only_name_a_coordinator")


def without_coordinator(view: CaseView) -> bool:
    """Whether nobody coordinates the case any more."""
    return not view.coordinators()


def who_names_a_coordinator(view: CaseView) -> list[str]:
    """Who is asked to name a coordinator: the members of the care lanes, or everyone left if there are none."""
    care = {lane.id for lane in view.pathway.lanes_with_role("care")}
    people = sorted(m.user_id for m in view.members.values() if m.lane in care)
    return people or sorted(view.members)
