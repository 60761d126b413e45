"""Specification: a consent answer belongs to the person who gave it (care/consent.py)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from homeward.care.case import CaseView, Membership
from homeward.care.consent import Answer, answered_by, consent_state
from homeward.care.pathway import Pathway, default_pathways_dir, load_pathways

MOR, FAR, KARL = "@mor:example.org", "@far:example.org", "@karl:example.org"
T0 = datetime(2026, 12, 1, 9, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def pathways() -> dict[str, Pathway]:
    return load_pathways(default_pathways_dir())


def view(pathway: Pathway, **lanes: str | None) -> CaseView:
    people = {"mor": MOR, "far": FAR, "karl": KARL}
    members = {people[name]: Membership(people[name], lane, False) for name, lane in lanes.items() if lane is not None}
    return CaseView(pathway=pathway, label="Maane", phase_id="planlegge-utskrivning", dates={}, members=members, records={})


def answers(*given: tuple[str, str]) -> list[Answer]:
    return [Answer("dokumentasjon", user, word, T0 + timedelta(minutes=n)) for n, (user, word) in enumerate(given)]  # type: ignore[arg-type]


@pytest.mark.parametrize("far_now", ["familien", "kommunen", None], ids=["family lane", "care lane", "left the room"])
def test_a_refusal_keeps_counting_whatever_lane_its_giver_is_in_now(pathways: dict[str, Pathway], far_now: str | None) -> None:
    sthf = pathways["sthf"]
    consent = sthf.consent("dokumentasjon")
    given = answers((MOR, "yes"), (FAR, "no"))
    assert consent_state(view(sthf, mor="foresatt", far="foresatt"), consent, given) == "refused"
    assert consent_state(view(sthf, mor="foresatt", far=far_now), consent, given) == "refused"


def test_a_withdrawal_keeps_counting_after_its_giver_left(pathways: dict[str, Pathway]) -> None:
    sthf = pathways["sthf"]
    given = answers((MOR, "yes"), (FAR, "yes"), (FAR, "revoke"))
    assert consent_state(view(sthf, mor="foresatt"), sthf.consent("dokumentasjon"), given) == "withdrawn"


def test_the_refusal_stops_counting_when_its_giver_changes_it(pathways: dict[str, Pathway]) -> None:
    sthf = pathways["sthf"]
    given = answers((MOR, "yes"), (FAR, "no"), (FAR, "yes"))
    assert consent_state(view(sthf, mor="foresatt", far="foresatt"), sthf.consent("dokumentasjon"), given) == "given"


def test_a_yes_counts_only_while_its_giver_answers_for_the_child(pathways: dict[str, Pathway]) -> None:
    sthf = pathways["sthf"]
    given = answers((MOR, "yes"))
    assert consent_state(view(sthf, mor="familien", far="foresatt"), sthf.consent("dokumentasjon"), given) == "pending"


def test_what_a_person_answered_is_their_latest_answer_per_consent() -> None:
    given = answers((FAR, "no"), (MOR, "yes"), (FAR, "yes"))
    assert {cid: a.answer for cid, a in answered_by(given, FAR).items()} == {"dokumentasjon": "yes"}
    assert answered_by(given, KARL) == {}
