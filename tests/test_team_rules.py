"""Specification of who may be placed in which lane (care/team.py), on the real pathway files."""

from __future__ import annotations

import pytest

from homeward.care.case import CaseView, Membership
from homeward.care.pathway import Pathway
from homeward.care.refusal import Refusal
from homeward.care.team import check_placement, who_names_a_coordinator, without_coordinator

CORA = "@cora:example.org"  # coordinator in the hospital lane
KARL = "@karl:example.org"  # municipality
MOR = "@mor:example.org"  # guardian
FAR = "@far:example.org"  # family lane


@pytest.fixture
def sthf(pathways: dict[str, Pathway]) -> CaseView:
    return CaseView(
        pathway=pathways["sthf"],
        label="Maane",
        phase_id="planlegge-utskrivning",
        dates={},
        records={},
        members={
            CORA: Membership(CORA, "sykehus", coordinator=True),
            KARL: Membership(KARL, "kommunen", coordinator=False),
            MOR: Membership(MOR, "foresatt", coordinator=False),
            FAR: Membership(FAR, "familien", coordinator=False),
        },
    )


def refusal(view: CaseView, actor: str, user: str, lane: str, coordinator: bool) -> str | None:
    try:
        check_placement(view, actor, user, view.pathway.lane(lane), coordinator)
    except Refusal as refused:
        return refused.key
    return None


@pytest.mark.parametrize("lane", ["foresatt", "barn"])
def test_nobody_answers_consent_and_coordinates_at_once(sthf: CaseView, lane: str) -> None:
    assert refusal(sthf, CORA, KARL, lane, True) == "team.consent_lane_not_coordinator"
    assert refusal(sthf, CORA, MOR, lane, True) == "team.consent_lane_not_coordinator"
    assert refusal(sthf, CORA, KARL, lane, False) is None


@pytest.mark.parametrize("lane", ["familien", "foresatt", "barn"])
def test_a_coordinator_cannot_put_themselves_into_the_familys_lanes(sthf: CaseView, lane: str) -> None:
    sthf.members[KARL] = Membership(KARL, "kommunen", coordinator=True)  # so Cora is not the last coordinator
    assert refusal(sthf, CORA, CORA, lane, False) == "team.not_yourself_into_family"


def test_a_coordinator_may_change_their_own_care_lane(sthf: CaseView) -> None:
    assert refusal(sthf, CORA, CORA, "kommunen", True) is None


def test_another_coordinator_may_put_a_coordinator_in_the_family_lane(sthf: CaseView) -> None:
    assert refusal(sthf, CORA, FAR, "familien", True) is None


def test_the_last_coordinator_cannot_give_up_the_flag(sthf: CaseView) -> None:
    assert refusal(sthf, CORA, CORA, "sykehus", False) == "team.last_coordinator"
    sthf.members[KARL] = Membership(KARL, "kommunen", coordinator=True)
    assert refusal(sthf, CORA, CORA, "sykehus", False) is None


def test_without_a_coordinator_a_care_lane_may_only_name_one_in_a_care_lane(sthf: CaseView) -> None:
    del sthf.members[CORA]
    assert without_coordinator(sthf)
    assert refusal(sthf, KARL, KARL, "kommunen", True) is None
    assert refusal(sthf, KARL, FAR, "sykehus", True) is None
    assert refusal(sthf, KARL, FAR, "kommunen", False) == "team.only_name_a_coordinator"
    assert refusal(sthf, KARL, FAR, "familien", True) == "team.only_name_a_coordinator"


def test_the_care_lanes_are_asked_to_name_a_coordinator_and_everyone_when_there_are_none(sthf: CaseView) -> None:
    del sthf.members[CORA]
    assert who_names_a_coordinator(sthf) == [KARL]
    del sthf.members[KARL]
    assert who_names_a_coordinator(sthf) == [FAR, MOR]
