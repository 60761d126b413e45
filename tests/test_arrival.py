"""Specification of what a person meets in a care room (care/arrival.py, the greeting, a sent notice).

Pure: a `CaseView` built by hand on the shipped Örebro pathway, and the real catalogs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from homeward.care.arrival import carried_dates, consents_waiting_for, empty_lanes, open_for_lane, renewed_by
from homeward.care.case import CaseView, ItemRecord, Membership
from homeward.care.consent import Answer
from homeward.care.pathway import Pathway, PathwayError, default_pathways_dir, load_pathway
from homeward.messages.catalog import Catalog
from homeward.messages.greeting import greeting_content
from homeward.messages.notices import notice_message
from tests.unit import shipped_pathways

STOCKHOLM = ZoneInfo("Europe/Stockholm")
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=STOCKHOLM)  # a Tuesday
SARA, KARL, MARIA = "@sara:example.org", "@karl:example.org", "@maria:example.org"
CATALOG = Catalog()


@dataclass
class Room:
    """What the renderers need of a room: its language and the moment."""

    now: datetime = NOW
    language: str = "sv"

    def t(self, key: str, /, **values: object) -> str:
        return CATALOG.t(self.language, key, **values)


@pytest.fixture(scope="module")
def orebro() -> Pathway:
    return shipped_pathways()["orebro"]


def case(orebro: Pathway, **dates: date | datetime) -> CaseView:
    return CaseView(
        pathway=orebro,
        label="Måsen",
        phase_id="identifiering",
        dates=dict(dates),
        members={
            SARA: Membership(SARA, "slutenvard", True),
            KARL: Membership(KARL, "kommun", False),
            MARIA: Membership(MARIA, "vardnadshavare", False),
        },
        records={},
    )


def test_open_for_a_lane_are_its_tasks_the_notices_it_sends_and_those_sent_to_it(orebro: Pathway) -> None:
    view = case(orebro)
    assert [(o.item.id, o.part) for o in open_for_lane(view, "slutenvard")] == [
        ("konsultation", "do"),
        ("inskrivningsmeddelande", "send"),
        ("generellt-meddelande", "send"),
    ]
    assert [o.item.id for o in open_for_lane(view, "kommun")] == ["kontaktperson-kommun"]  # nothing sent to it yet
    view.records["inskrivningsmeddelande"] = ItemRecord(sent_at=NOW, sent_by=SARA)
    assert [(o.item.id, o.part) for o in open_for_lane(view, "kommun")] == [
        ("inskrivningsmeddelande", "acknowledge"),
        ("kontaktperson-kommun", "do"),
    ]


def test_empty_lanes_are_those_with_nobody_in_them(orebro: Pathway) -> None:
    assert empty_lanes(case(orebro)) == {"patient", "barn", "oppenvard"}


def test_a_notice_carries_its_dates_set_or_not(orebro: Pathway) -> None:
    view = case(orebro, admission=datetime(2026, 12, 1, 8, 0, tzinfo=STOCKHOLM))
    carried = [(named.id, value) for named, value in carried_dates(view, orebro.item("inskrivningsmeddelande"))]
    assert carried == [("admission", datetime(2026, 12, 1, 8, 0, tzinfo=STOCKHOLM)), ("discharge", None)]
    assert carried_dates(view, orebro.item("generellt-meddelande")) == []


def test_setting_a_carried_date_the_notice_said_was_missing_renews_it(orebro: Pathway) -> None:
    notice = orebro.item("inskrivningsmeddelande")  # renew_on: [discharge]; carries admission, discharge
    assert renewed_by(notice, "discharge", was_set=False)
    assert renewed_by(notice, "discharge", was_set=True)
    assert not renewed_by(notice, "admission", was_set=True)  # not in renew_on: its deadline moves, that is all


def test_consents_wait_for_a_guardian_until_they_answer(orebro: Pathway) -> None:
    view = case(orebro)
    waiting = [c.id for c in consents_waiting_for(view, MARIA, [])]
    assert "informationsoverforing" in waiting
    answered = [Answer("informationsoverforing", MARIA, "yes", NOW)]
    assert "informationsoverforing" not in [c.id for c in consents_waiting_for(view, MARIA, answered)]
    assert consents_waiting_for(view, KARL, []) == []


def test_the_notice_states_its_dates_sender_what_to_do_and_by_when(orebro: Pathway) -> None:
    view = case(orebro, admission=datetime(2026, 12, 1, 8, 0, tzinfo=STOCKHOLM), discharge=date(2026, 12, 8))
    content = notice_message(
        Room(), view, orebro.item("inskrivningsmeddelande"), sender=SARA, sent_at=NOW, reactions=True
    )
    body = content["body"]
    assert "Inskrivning på sjukhus: 2026-12-01 08:00" in body
    assert "Preliminärt utskrivningsdatum: 2026-12-08" in body
    assert "från Slutenvård" in body and SARA in body
    assert "Kvittera senast 2026-12-02 16:00" in body  # the next working day at 16:00 (default_ack_due)
    assert content["m.mentions"] == {"user_ids": [KARL]}
    assert "Ingen finns i Öppenvård än" in body  # a receiving lane with nobody in it is said out loud


def test_a_notice_with_a_date_not_set_says_so(orebro: Pathway) -> None:
    view = case(orebro, admission=datetime(2026, 12, 1, 8, 0, tzinfo=STOCKHOLM))
    body = notice_message(
        Room(), view, orebro.item("inskrivningsmeddelande"), sender=SARA, sent_at=NOW, reactions=False
    )["body"]
    assert "Preliminärt utskrivningsdatum: inte satt än (!plan discharge <YYYY-MM-DD>)" in body  # plain text
    assert "✅" not in body  # reactions off: not offered


@pytest.mark.parametrize("language", ["nb", "sv", "en"])
def test_a_guardian_is_greeted_with_their_lane_and_to_reply_yes_or_no(orebro: Pathway, language: str) -> None:
    content = greeting_content(Room(language=language), case(orebro), MARIA, [])
    assert content["m.mentions"] == {"user_ids": [MARIA]} and content["homeward.greeting"] == MARIA
    assert "Vårdnadshavare" in content["body"]
    reply = {
        "nb": "svar ja eller nei på forespørselen",
        "sv": "svara ja eller nej på förfrågan",
        "en": "reply yes or no to the request",
    }[language]
    assert reply in content["body"]
    assert "!ack" not in content["body"]


def test_a_care_member_is_greeted_with_what_is_open_for_their_lane_and_ack(orebro: Pathway) -> None:
    view = case(orebro, admission=datetime(2026, 12, 1, 8, 0, tzinfo=STOCKHOLM))
    view.records["inskrivningsmeddelande"] = ItemRecord(sent_at=NOW, sent_by=SARA)
    body = greeting_content(Room(language="en"), view, KARL, [])["body"]
    notice = next(line for line in body.splitlines() if " inskrivningsmeddelande " in line)  # plain text
    assert "!ack inskrivningsmeddelande" in notice and "2026-12-01 08:00" in notice and "not set yet" in notice
    assert "kontaktperson-kommun" in body
    assert "!ack <id>" in body


def test_a_member_with_nothing_open_is_told_so(orebro: Pathway) -> None:
    view = case(orebro)
    view.members["@olle:example.org"] = Membership("@olle:example.org", "oppenvard", False)
    assert (
        "Nothing is open for Öppenvård right now."
        in greeting_content(Room(language="en"), view, "@olle:example.org", [])["body"]
    )


def _broken(tmp_path: Path, change) -> list[str]:
    data = yaml.safe_load((default_pathways_dir() / "orebro.yaml").read_text(encoding="utf-8"))
    change(
        next(i for p in data["phases"] for i in p["items"] if i["id"] == "inskrivningsmeddelande"),
        next(i for p in data["phases"] for i in p["items"] if i["id"] == "konsultation"),
    )
    path = tmp_path / "orebro.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(PathwayError) as caught:
        load_pathway(path)
    return caught.value.problems


def test_a_notice_carries_only_dates_the_pathway_has(tmp_path: Path) -> None:
    def change(notice, task):
        notice["carries"] = {"dates": ["admission", "utskrivning"], "source": "Flödesschema"}

    assert [p for p in _broken(tmp_path, change) if "carries" in p] == [
        "orebro.yaml: phases[0].items[2].carries.dates[1]: unknown date 'utskrivning' "
        "(known: admission, discharge, followup, sip_meeting)"
    ]


def test_what_a_notice_carries_cites_its_source(tmp_path: Path) -> None:
    def change(notice, task):
        del notice["carries"]["source"]

    assert _broken(tmp_path, change) == ["orebro.yaml: phases[0].items[2].carries.source: required field is missing"]


def test_only_a_notice_carries_facts(tmp_path: Path) -> None:
    def change(notice, task):
        task["carries"] = {"dates": ["admission"], "source": "x"}

    assert any("carries" in p and "only a notice" in p for p in _broken(tmp_path, change))
