"""Specification of the coordinated plan (care/careplan.py) on the real pathway files.

The plan is the fold of its change records. Each test builds a plan by applying the
changes the operations return, as the bot would after storing them, and checks one
behaviour: versions, removal and history, numbering, the pathway's own words, and
every refusal.

Numbering decision: goal numbers are stable ids that are never reused. After g2 is
removed, g3 stays g3 and the next goal is g4; sub-goals and actions number the same
way within their goal.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from homeward.care.careplan import (
    MAX_TEXT,
    CarePlan,
    CarePlanChange,
    add_action,
    add_goal,
    add_subgoal,
    apply_careplan,
    fold_careplan,
    history,
    parse_ref,
    remove,
    set_followup,
    set_responsible,
    text_lines,
)
from homeward.care.pathway import Pathway
from homeward.care.refusal import Refusal

UTC = UTC
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CORA = "@cora:example.org"
KARL = "@karl:example.org"


@pytest.fixture
def orebro(pathways: dict[str, Pathway]) -> Pathway:
    return pathways["orebro"]


@pytest.fixture
def sthf(pathways: dict[str, Pathway]) -> Pathway:
    return pathways["sthf"]


def tick(plan: CarePlan) -> datetime:
    """A moment one minute after the plan's last change, so changes have distinct times."""
    return T0 + timedelta(minutes=plan.version)


def goals(*texts: str) -> CarePlan:
    """A plan with these goals, g1, g2, … in order."""
    plan = CarePlan()
    for text in texts:
        plan = apply_careplan(plan, add_goal(plan, text, by=CORA, at=tick(plan)))
    return plan


def refusal_of(excinfo: pytest.ExceptionInfo[Refusal]) -> tuple[str, dict[str, object]]:
    return excinfo.value.key, excinfo.value.values


# --- versions and history ---------------------------------------------------------------


def test_an_unwritten_plan_has_version_0_and_no_author() -> None:
    plan = CarePlan()
    assert (plan.version, plan.changed_at, plan.changed_by, plan.goals) == (0, None, None, ())


def test_each_change_bumps_the_version_by_one() -> None:
    plan = goals("Hemma före jul")
    assert plan.version == 1
    plan = apply_careplan(plan, add_subgoal(plan, 1, "Äter själv", by=CORA, at=tick(plan)))
    assert plan.version == 2
    plan = apply_careplan(plan, set_followup(plan, date(2027, 1, 15), by=CORA, at=tick(plan)))
    assert plan.version == 3


def test_the_snapshot_knows_when_and_by_whom_it_last_changed() -> None:
    plan = goals("Hemma före jul")
    change = add_subgoal(plan, 1, "Äter själv", by=KARL, at=T0 + timedelta(hours=2))
    plan = apply_careplan(plan, change)
    assert (plan.changed_at, plan.changed_by) == (T0 + timedelta(hours=2), KARL)


def test_a_change_records_what_by_whom_when_and_why() -> None:
    plan = goals("Hemma före jul")
    change = add_subgoal(plan, 1, "Äter själv", by=KARL, at=T0, reason="Beslut på SIP-mötet")
    assert (change.version, change.kind, change.ref, change.text, change.by, change.at, change.reason) == (
        2,
        "subgoal_added",
        "g1.s1",
        "Äter själv",
        KARL,
        T0,
        "Beslut på SIP-mötet",
    )


def test_a_change_that_does_not_follow_the_current_version_is_not_applied() -> None:
    plan = goals("Hemma före jul")
    stale = add_goal(CarePlan(), "Något annat", by=KARL, at=T0)  # made from version 0
    with pytest.raises(ValueError):
        apply_careplan(plan, stale)


def test_folding_the_stored_changes_gives_the_same_plan_in_any_order() -> None:
    plan = goals("Hemma före jul", "Trygg nattsömn")
    plan = apply_careplan(plan, remove(plan, "g1", "Fel barn", by=CORA, at=tick(plan)))
    assert fold_careplan(reversed(plan.changes)) == plan


def test_a_change_survives_the_store_round_trip(orebro: Pathway) -> None:
    plan = goals("Hemma före jul")
    change = add_action(
        plan, orebro, 1, "Hemsjukvård", "kommun", by=CORA, at=T0, start=date(2026, 12, 20), end=date(2027, 3, 1)
    )
    assert CarePlanChange.from_record(change.to_record()) == change


# --- removal and numbering ----------------------------------------------------------------


def test_a_removed_goal_leaves_the_snapshot() -> None:
    plan = goals("Hemma före jul", "Trygg nattsömn", "Förskola")
    plan = apply_careplan(plan, remove(plan, "g2", "Ingår i g1", by=CORA, at=tick(plan)))
    assert [g.text for g in plan.goals] == ["Hemma före jul", "Förskola"]


def test_a_removed_goal_stays_in_history_with_its_reason() -> None:
    plan = goals("Hemma före jul", "Trygg nattsömn")
    plan = apply_careplan(plan, add_subgoal(plan, 2, "Larm vid andningsuppehåll", by=CORA, at=tick(plan)))
    plan = apply_careplan(plan, remove(plan, "g2", "Ingår i g1", by=CORA, at=tick(plan)))
    assert [(c.kind, c.ref, c.text, c.reason) for c in history(plan, "g2")] == [
        ("goal_added", "g2", "Trygg nattsömn", None),
        ("subgoal_added", "g2.s1", "Larm vid andningsuppehåll", None),
        ("removed", "g2", None, "Ingår i g1"),
    ]


def test_removing_a_goal_removes_its_subgoals_and_actions_from_the_snapshot(orebro: Pathway) -> None:
    plan = goals("Hemma före jul")
    plan = apply_careplan(plan, add_subgoal(plan, 1, "Äter själv", by=CORA, at=tick(plan)))
    plan = apply_careplan(plan, add_action(plan, orebro, 1, "Hemsjukvård", "kommun", by=CORA, at=tick(plan)))
    plan = apply_careplan(plan, remove(plan, "g1", "Fel ärende", by=CORA, at=tick(plan)))
    assert (plan.goals, plan.refs()) == ((), [])


def test_goal_numbers_stay_the_same_after_an_earlier_goal_is_removed() -> None:
    plan = goals("Hemma före jul", "Trygg nattsömn", "Förskola")
    plan = apply_careplan(plan, remove(plan, "g2", "Ingår i g1", by=CORA, at=tick(plan)))
    assert [(g.ref, g.text) for g in plan.goals] == [("g1", "Hemma före jul"), ("g3", "Förskola")]


def test_a_removed_goal_number_is_never_given_to_a_new_goal() -> None:
    plan = goals("Hemma före jul", "Trygg nattsömn")
    plan = apply_careplan(plan, remove(plan, "g2", "Ingår i g1", by=CORA, at=tick(plan)))
    change = add_goal(plan, "Förskola", by=CORA, at=tick(plan))
    assert change.ref == "g3"


def test_a_removed_subgoal_number_is_never_given_to_a_new_subgoal() -> None:
    plan = goals("Hemma före jul")
    plan = apply_careplan(plan, add_subgoal(plan, 1, "Äter själv", by=CORA, at=tick(plan)))
    plan = apply_careplan(plan, remove(plan, "g1.s1", "Felskrivning", by=CORA, at=tick(plan)))
    assert add_subgoal(plan, 1, "Äter själv med stöd", by=CORA, at=tick(plan)).ref == "g1.s2"


def test_subgoals_and_actions_number_in_their_own_series(orebro: Pathway) -> None:
    plan = goals("Hemma före jul")
    plan = apply_careplan(plan, add_subgoal(plan, 1, "Äter själv", by=CORA, at=tick(plan)))
    plan = apply_careplan(plan, add_action(plan, orebro, 1, "Hemsjukvård", "kommun", by=CORA, at=tick(plan)))
    assert plan.refs() == ["g1", "g1.s1", "g1.a1"]


def test_a_removed_action_leaves_the_goal_and_its_other_parts(orebro: Pathway) -> None:
    plan = goals("Hemma före jul")
    plan = apply_careplan(plan, add_subgoal(plan, 1, "Äter själv", by=CORA, at=tick(plan)))
    plan = apply_careplan(plan, add_action(plan, orebro, 1, "Hemsjukvård", "kommun", by=CORA, at=tick(plan)))
    plan = apply_careplan(plan, remove(plan, "g1.a1", "Ersatt", by=CORA, at=tick(plan)))
    assert plan.refs() == ["g1", "g1.s1"]


def test_references_are_read_as_people_type_them() -> None:
    assert [str(parse_ref(t)) for t in ("g2", "G2.S1", " g2.a3 ", "2")] == ["g2", "g2.s1", "g2.a3", "g2"]
    assert parse_ref("g2.x1") is None


def test_a_goal_can_be_named_as_typed_in_chat() -> None:
    plan = goals("Hemma före jul")
    assert add_subgoal(plan, "g1", "Äter själv", by=CORA, at=T0).ref == "g1.s1"


# --- content ------------------------------------------------------------------------------


def test_an_action_owner_may_be_a_lane_name_with_or_without_diacritics(orebro: Pathway) -> None:
    plan = goals("Hemma före jul")
    typed = ["Öppenvård", "oppenvard"]
    owners = [add_action(plan, orebro, 1, "Mobila teamet", o, by=CORA, at=T0).owner for o in typed]
    assert owners == ["oppenvard", "oppenvard"]


def test_an_action_owner_may_be_a_person(orebro: Pathway) -> None:
    plan = goals("Hemma före jul")
    plan = apply_careplan(plan, add_action(plan, orebro, 1, "Beställa sondmat", KARL, by=CORA, at=tick(plan)))
    action = plan.goals[0].actions[0]
    assert (action.owner, action.owner_is_lane) == (KARL, False)


def test_an_action_keeps_its_period(orebro: Pathway) -> None:
    plan = goals("Hemma före jul")
    change = add_action(
        plan, orebro, 1, "Hemsjukvård", "kommun", by=CORA, at=T0, start=date(2026, 12, 20), end=date(2027, 3, 1)
    )
    plan = apply_careplan(plan, change)
    action = plan.goals[0].actions[0]
    assert (action.start, action.end) == (date(2026, 12, 20), date(2027, 3, 1))


def test_responsible_lane_and_followup_date_are_set_and_replaced(orebro: Pathway) -> None:
    plan = CarePlan()
    plan = apply_careplan(plan, set_responsible(plan, orebro, "kommun", by=CORA, at=tick(plan)))
    plan = apply_careplan(plan, set_responsible(plan, orebro, "Öppenvården", by=CORA, at=tick(plan)))
    plan = apply_careplan(plan, set_followup(plan, date(2027, 1, 15), by=CORA, at=tick(plan)))
    assert (plan.responsible, plan.followup) == ("oppenvard", date(2027, 1, 15))


def test_plan_text_is_kept_on_one_line() -> None:
    plan = goals("  Hemma\n före   jul ")
    assert plan.goals[0].text == "Hemma före jul"


# --- the pathway's own words ----------------------------------------------------------


def full_plan(pathway: Pathway, lane: str, responsible: str) -> CarePlan:
    plan = goals("Hemma före jul")
    plan = apply_careplan(plan, add_subgoal(plan, 1, "Äter själv", by=CORA, at=tick(plan)))
    change = add_action(
        plan, pathway, 1, "Hemsjukvård", lane, by=CORA, at=tick(plan), start=date(2026, 12, 20), end=date(2027, 3, 1)
    )
    plan = apply_careplan(plan, change)
    plan = apply_careplan(plan, set_responsible(plan, pathway, responsible, by=CORA, at=tick(plan)))
    return apply_careplan(plan, set_followup(plan, date(2027, 1, 15), by=CORA, at=tick(plan)))


def test_orebro_renders_the_plan_in_sip_words(orebro: Pathway) -> None:
    lines = text_lines(full_plan(orebro, "kommun", "oppenvard"), orebro)
    assert lines == [
        f"SIP – samordnad individuell plan · v5 · 2026-12-01 10:04 · {CORA}",
        "Ansvarig: Öppenvård",
        "Uppföljningsdatum: 2027-01-15",
        "g1 Huvudmål: Hemma före jul",
        "  Delmål:",
        "    g1.s1 Äter själv",
        "  Insatser:",
        "    g1.a1 Hemsjukvård — Ansvarig: Kommun — 2026-12-20–2027-03-01",
    ]


def test_sthf_renders_the_plan_in_the_words_of_individuell_plan(sthf: Pathway) -> None:
    lines = text_lines(full_plan(sthf, "kommunen", "kommunen"), sthf)
    assert lines == [
        f"Individuell plan · v5 · 2026-12-01 10:04 · {CORA}",
        "Ansvarlig: Kommunen",
        "Oppfølgingsdato: 2027-01-15",
        "g1 Mål: Hemma före jul",
        "  Delmål:",
        "    g1.s1 Äter själv",
        "  Tiltak:",
        "    g1.a1 Hemsjukvård — Ansvarlig: Kommunen — Planperiode: 2026-12-20–2027-03-01",
    ]


def test_an_empty_plan_renders_its_header_and_no_goals(sthf: Pathway) -> None:
    assert text_lines(CarePlan(), sthf) == [
        "Individuell plan · v0",
        "Ansvarlig: —",
        "Oppfølgingsdato: —",
        "Mål: —",
    ]


def test_removed_goals_are_not_rendered(orebro: Pathway) -> None:
    plan = goals("Hemma före jul", "Trygg nattsömn")
    plan = apply_careplan(plan, remove(plan, "g1", "Klart", by=CORA, at=tick(plan)))
    assert [line for line in text_lines(plan, orebro) if "Huvudmål" in line] == ["g2 Huvudmål: Trygg nattsömn"]


# --- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_an_empty_goal_is_refused(text: str) -> None:
    with pytest.raises(Refusal) as excinfo:
        add_goal(CarePlan(), text, by=CORA, at=T0)
    assert refusal_of(excinfo) == ("plan.empty_text", {})


def test_an_empty_subgoal_is_refused() -> None:
    with pytest.raises(Refusal) as excinfo:
        add_subgoal(goals("Hemma före jul"), 1, " ", by=CORA, at=T0)
    assert excinfo.value.key == "plan.empty_text"


def test_text_longer_than_the_limit_is_refused() -> None:
    with pytest.raises(Refusal) as excinfo:
        add_goal(CarePlan(), "x" * (MAX_TEXT + 1), by=CORA, at=T0)
    assert refusal_of(excinfo) == ("plan.too_long", {"limit": 2000, "length": 2001})


def test_text_of_exactly_the_limit_is_accepted() -> None:
    assert add_goal(CarePlan(), "x" * MAX_TEXT, by=CORA, at=T0).text == "x" * MAX_TEXT


def test_a_subgoal_of_an_unknown_goal_is_refused_with_the_goals_there_are() -> None:
    with pytest.raises(Refusal) as excinfo:
        add_subgoal(goals("Hemma före jul", "Trygg nattsömn"), 5, "Äter själv", by=CORA, at=T0)
    assert refusal_of(excinfo) == ("plan.unknown_goal", {"n": 5, "count": 2, "goals": "g1, g2"})


def test_a_subgoal_of_a_removed_goal_is_refused() -> None:
    plan = goals("Hemma före jul", "Trygg nattsömn")
    plan = apply_careplan(plan, remove(plan, "g1", "Klart", by=CORA, at=tick(plan)))
    with pytest.raises(Refusal) as excinfo:
        add_subgoal(plan, 1, "Äter själv", by=CORA, at=T0)
    assert refusal_of(excinfo) == ("plan.unknown_goal", {"n": 1, "count": 1, "goals": "g2"})


def test_an_action_for_an_unknown_goal_is_refused(orebro: Pathway) -> None:
    with pytest.raises(Refusal) as excinfo:
        add_action(CarePlan(), orebro, 1, "Hemsjukvård", "kommun", by=CORA, at=T0)
    assert refusal_of(excinfo) == ("plan.unknown_goal", {"n": 1, "count": 0, "goals": "—"})


def test_an_action_owned_by_a_lane_outside_the_pathway_is_refused(sthf: Pathway) -> None:
    with pytest.raises(Refusal) as excinfo:
        add_action(goals("Hjem før jul"), sthf, 1, "Hjemmesykepleie", "slutenvard", by=CORA, at=T0)
    assert refusal_of(excinfo) == (
        "plan.unknown_lane",
        {"lane": "slutenvard", "lanes": "familien, foresatt, barn, kommunen, sykehus"},
    )


def test_an_action_owned_by_a_malformed_user_id_is_refused(orebro: Pathway) -> None:
    with pytest.raises(Refusal) as excinfo:
        add_action(goals("Hemma före jul"), orebro, 1, "Hemsjukvård", "@karl", by=CORA, at=T0)
    assert refusal_of(excinfo) == ("plan.bad_user", {"user": "@karl"})


def test_an_unknown_responsible_lane_is_refused(orebro: Pathway) -> None:
    with pytest.raises(Refusal) as excinfo:
        set_responsible(CarePlan(), orebro, "sykehus", by=CORA, at=T0)
    assert excinfo.value.key == "plan.unknown_lane"


def test_an_action_ending_before_it_starts_is_refused(orebro: Pathway) -> None:
    start, end = date(2027, 3, 1), date(2026, 12, 20)
    with pytest.raises(Refusal) as excinfo:
        add_action(goals("Hemma före jul"), orebro, 1, "Hemsjukvård", "kommun", by=CORA, at=T0, start=start, end=end)
    assert refusal_of(excinfo) == ("plan.bad_period", {"start": "2027-03-01", "end": "2026-12-20"})


def test_an_action_of_one_day_is_accepted(orebro: Pathway) -> None:
    day = date(2026, 12, 20)
    change = add_action(goals("Hemma före jul"), orebro, 1, "Hembesök", "kommun", by=CORA, at=T0, start=day, end=day)
    assert (change.start, change.end) == (day, day)


@pytest.mark.parametrize("ref", ["g9", "g1.s1", "g1.a1", "nonsense"])
def test_removing_an_unknown_reference_is_refused_with_the_references_there_are(ref: str) -> None:
    with pytest.raises(Refusal) as excinfo:
        remove(goals("Hemma före jul"), ref, "Fel", by=CORA, at=T0)
    assert refusal_of(excinfo) == ("plan.unknown_ref", {"ref": ref, "refs": "g1"})


def test_removing_something_already_removed_is_refused() -> None:
    plan = goals("Hemma före jul", "Trygg nattsömn")
    plan = apply_careplan(plan, remove(plan, "g1", "Klart", by=CORA, at=tick(plan)))
    with pytest.raises(Refusal) as excinfo:
        remove(plan, "g1", "Igen", by=CORA, at=T0)
    assert excinfo.value.key == "plan.unknown_ref"


@pytest.mark.parametrize("reason", ["", "  "])
def test_removing_without_a_reason_is_refused(reason: str) -> None:
    with pytest.raises(Refusal) as excinfo:
        remove(goals("Hemma före jul"), "g1", reason, by=CORA, at=T0)
    assert refusal_of(excinfo) == ("plan.reason_needed", {})


def test_a_reason_longer_than_the_limit_is_refused() -> None:
    with pytest.raises(Refusal) as excinfo:
        remove(goals("Hemma före jul"), "g1", "x" * (MAX_TEXT + 1), by=CORA, at=T0)
    assert excinfo.value.key == "plan.too_long"


def test_a_change_without_a_time_zone_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        add_goal(CarePlan(), "Hemma före jul", by=CORA, at=datetime(2026, 12, 1, 9, 0))
