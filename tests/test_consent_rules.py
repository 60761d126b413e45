"""Specification: a consent answer belongs to the person who gave it (care/consent.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from homeward.care.case import CaseView, Membership
from homeward.care.consent import (
    Answer,
    AnswerWord,
    answered_by,
    check_answer,
    consent_state,
    next_to_ask,
    reply_answer,
    who_answers,
)
from homeward.care.pathway import Pathway
from homeward.care.refusal import Refusal
from homeward.messages.catalog import Catalog

MOR, FAR, KARL = "@mor:example.org", "@far:example.org", "@karl:example.org"
T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)


def view(pathway: Pathway, **lanes: str | None) -> CaseView:
    people = {"mor": MOR, "far": FAR, "karl": KARL}
    members = {people[name]: Membership(people[name], lane, False) for name, lane in lanes.items() if lane is not None}
    return CaseView(
        pathway=pathway, label="Maane", phase_id="planlegge-utskrivning", dates={}, members=members, records={}
    )


def answers(*given: tuple[str, AnswerWord]) -> list[Answer]:
    return [Answer("dokumentasjon", user, word, T0 + timedelta(minutes=n)) for n, (user, word) in enumerate(given)]


@pytest.mark.parametrize("far_now", ["familien", "kommunen", None], ids=["family lane", "care lane", "left the room"])
def test_a_refusal_keeps_counting_whatever_lane_its_giver_is_in_now(
    pathways: dict[str, Pathway], far_now: str | None
) -> None:
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


# --- who answers, covered consents, the order of requests, answers by reply ---------------

GRETA, BARN = "@greta:example.org", "@barn:example.org"


def orebro_view(pathways: dict[str, Pathway], *, child_answers: bool = False) -> CaseView:
    members = {GRETA: Membership(GRETA, "vardnadshavare", False), BARN: Membership(BARN, "barn", False)}
    return CaseView(
        pathway=pathways["orebro"],
        label="Sjostjerne",
        phase_id="identifiering",
        dates={},
        members=members,
        records={},
        child_answers=child_answers,
    )


def test_the_guardians_answer_unless_the_case_says_the_child_answers_their_own(pathways: dict[str, Pathway]) -> None:
    consent = pathways["orebro"].consent("informationsoverforing")
    assert who_answers(orebro_view(pathways), consent) == [GRETA]
    assert who_answers(orebro_view(pathways, child_answers=True), consent) == [BARN]


def test_a_childs_yes_counts_only_when_the_case_says_the_child_answers(pathways: dict[str, Pathway]) -> None:
    consent = pathways["orebro"].consent("informationsoverforing")
    yes = [Answer("informationsoverforing", BARN, "yes", T0)]
    assert consent_state(orebro_view(pathways), consent, yes) == "pending"
    assert consent_state(orebro_view(pathways, child_answers=True), consent, yes) == "given"


def test_the_child_setting_never_changes_a_consent_the_pathway_leaves_to_the_guardians(
    pathways: dict[str, Pathway],
) -> None:
    sthf = pathways["sthf"]
    v = view(sthf, mor="foresatt", karl="barn")
    v.child_answers = True
    assert who_answers(v, sthf.consent("dokumentasjon")) == [MOR]


def test_a_covered_consent_is_asked_of_nobody_and_is_what_its_covering_consent_is(pathways: dict[str, Pathway]) -> None:
    v = orebro_view(pathways)
    sip = pathways["orebro"].consent("sip")
    assert who_answers(v, sip) == []
    assert consent_state(v, sip, []) == "pending"
    assert consent_state(v, sip, [Answer("informationsoverforing", GRETA, "yes", T0)]) == "given"
    assert consent_state(v, sip, [Answer("informationsoverforing", GRETA, "no", T0)]) == "refused"


def test_answering_a_covered_consent_on_its_own_is_refused_naming_the_covering_one(
    pathways: dict[str, Pathway],
) -> None:
    with pytest.raises(Refusal) as refused:
        check_answer(orebro_view(pathways), "sip", GRETA)
    assert refused.value.key == "consent.covered" and refused.value.values["id"] == "informationsoverforing"


def test_the_consent_asked_now_is_the_first_pending_one_in_the_pathways_order(pathways: dict[str, Pathway]) -> None:
    v = orebro_view(pathways)
    first = [Answer("informationsoverforing", GRETA, "yes", T0)]
    both = [*first, Answer("npo", GRETA, "no", T0 + timedelta(minutes=1))]
    asked = next_to_ask(v, []), next_to_ask(v, first)
    assert [c.id if c is not None else None for c in asked] == ["informationsoverforing", "npo"]
    assert next_to_ask(v, both) is None  # the SIP is covered: never asked


@pytest.mark.parametrize(
    "text, word",
    [
        ("ja", "yes"),
        ("Ja!", "yes"),
        (" JA. ", "yes"),
        ("yes", "yes"),
        ("Yes!!", "yes"),
        ("nei", "no"),
        ("Nej.", "no"),
        ("NO", "no"),
        ("«nei»", "no"),
        ("ja, men", None),
        ("Hva betyr dette?", None),
        ("", None),
        ("jaa", None),
        ("ok", None),
    ],
)
def test_a_reply_is_an_answer_only_when_it_is_a_plain_yes_or_no(text: str, word: str | None) -> None:
    words = Catalog().words  # the catalogs' `words.yes` / `words.no`, as the dispatcher passes them
    assert reply_answer(text, yes=words("yes"), no=words("no")) == word


def test_a_pathway_rule_that_covers_a_consent_must_name_a_consent_that_is_asked(pathways: dict[str, Pathway]) -> None:
    data = pathways["orebro"].model_dump(mode="json", exclude_none=True)
    data["consents"][0]["covered_by"] = {"consent": "sip", "rule": "x", "source": "y"}  # sip is covered itself
    with pytest.raises(ValidationError, match="covered itself"):
        Pathway.model_validate(data)
    data["consents"][0].pop("covered_by")
    data["consents"][0]["receivers"] = ["nobody"]
    with pytest.raises(ValidationError, match="unknown lane 'nobody'"):
        Pathway.model_validate(data)
