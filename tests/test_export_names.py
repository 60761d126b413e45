"""How the exports name people: built from a case view, with the names the room gives (unit level)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from homeward.care.careplan import CarePlan
from homeward.care.case import CaseView, Membership
from homeward.care.minutes import fold_minutes, new_minutes
from homeward.care.pathway import default_pathways_dir, load_pathways
from homeward.exports.build import careplan_document, minutes_document
from homeward.exports.render import render_html, render_markdown

PATHWAYS = load_pathways(default_pathways_dir())
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ANNA, SARA, GONE = "@anna:region.se", "@sara:region.se", "@gone:region.se"
NAMES = {ANNA: "Anna Koordinator", SARA: "Sara Sjuksköterska"}


def view() -> CaseView:
    members = {ANNA: Membership(ANNA, None, True), SARA: Membership(SARA, "slutenvard", False)}
    return CaseView(PATHWAYS["orebro"], "Ekorre", "identifiering", {}, members, {})


def test_minutes_name_who_was_there_by_name_and_lane_and_someone_unknown_by_id():
    change = new_minutes(PATHWAYS["orebro"], "sip_meeting", NOW, timedelta(hours=1), by=ANNA, at=NOW)
    minutes = fold_minutes([change])
    minutes = minutes.__class__(**{**minutes.__dict__, "present": (SARA, ANNA, GONE)})
    doc = minutes_document(view(), minutes, NOW, names=NAMES)

    assert doc.present == (
        f"Sara Sjuksköterska, Slutenvård ({SARA})",
        f"Anna Koordinator, Samordningsansvarig ({ANNA})",  # a coordinator without a lane: the pathway's word
        GONE,
    )
    assert f"Anna Koordinator, Samordningsansvarig ({ANNA})" in render_markdown(doc)
    assert '<span class="person">Anna Koordinator</span>' in render_html(doc)


def test_without_names_a_plan_reads_as_before_ids_with_their_lanes():
    doc = careplan_document(view(), CarePlan(), [], {}, NOW, ANNA)
    assert doc.person(SARA).text() == f"{SARA} (Slutenvård)" and not doc.person(SARA).named
    assert doc.person(SARA).display() == SARA
    named = careplan_document(view(), CarePlan(), [], {}, NOW, ANNA, names=NAMES)
    assert named.person(SARA).display() == "Sara Sjuksköterska (Slutenvård)"
    text = render_markdown(named)
    assert "- **Planperiod:** Inte fastställt" in text and "- **Uppföljningsdatum:** Inte fastställt" in text
