"""What a change of the plan did, in words: "Uppföljningsdatum: 2026-12-20", "lagt till: Huvudmål g2".

Said in the answer to a plan command ("version 6 (Uppföljningsdatum: 2026-12-20)") and on the
printed plan next to its version, in the pathway's own words for the plan's parts.
"""

from __future__ import annotations

import contextlib

from homeward.care.careplan import CarePlanChange
from homeward.care.pathway import Pathway
from homeward.messages.speaker import Speaker


def change_note(room: Speaker, change: CarePlanChange | None, pathway: Pathway) -> str:
    """One short phrase for the change (plain text, no Markdown); "" for none."""
    if change is None:
        return ""
    terms = pathway.plan
    if change.kind == "followup_set":
        return str(room.t("plan.change_set", term=terms.followup, value=change.day.isoformat() if change.day else "—"))
    if change.kind == "responsible_set":
        lane = change.lane or "—"
        with contextlib.suppress(KeyError):
            lane = pathway.lane(lane).name
        return str(room.t("plan.change_set", term=terms.responsible, value=lane))
    if change.kind == "removed":
        return str(room.t("plan.change_removed", ref=change.ref or "—"))
    term = {"goal_added": terms.goal, "subgoal_added": terms.subgoal, "action_added": terms.action}[change.kind]
    return str(room.t("plan.change_added", term=term, ref=change.ref or "—"))
