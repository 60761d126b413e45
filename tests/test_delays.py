"""Specification of why children wait (care/delays.py) and of the reasons in the pathway files.

An Örebro case built by hand, as the store would load it: admitted Monday 30 November 2026
at 10:00, so the Inskrivningsmeddelande is due Tuesday 10:00 (24 hours) and, once sent,
acknowledged by the next working day at 16:00.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from homeward.care.case import Ack, CaseView, GivenReason, ItemRecord, Membership
from homeward.care.delays import Ask, decide_reason, find_reason, lanes_to_ask, late_lanes, waits
from homeward.care.pathway import REASON_CODES, Pathway, PathwayError, default_pathways_dir, load_pathway, load_pathways
from homeward.care.refusal import Refusal

STOCKHOLM = ZoneInfo("Europe/Stockholm")
SLUTENVARD, KOMMUN, OPPENVARD, CORA = "@sara:x", "@karl:x", "@olle:x", "@cora:x"


def se(day: int, hour: int = 0, minute: int = 0, month: int = 12) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=STOCKHOLM)


@pytest.fixture(scope="module")
def pathways() -> dict[str, Pathway]:
    return load_pathways(default_pathways_dir())


@pytest.fixture
def view(pathways: dict[str, Pathway]) -> CaseView:
    return CaseView(
        pathway=pathways["orebro"],
        label="Måsen",
        phase_id="identifiering",
        dates={"admission": se(30, 10, month=11)},
        members={
            SLUTENVARD: Membership(SLUTENVARD, "slutenvard", False),
            KOMMUN: Membership(KOMMUN, "kommun", False),
            OPPENVARD: Membership(OPPENVARD, "oppenvard", False),
            CORA: Membership(CORA, None, True),
        },
        records={},
    )


def test_a_notice_not_sent_by_its_due_time_is_a_wait_of_its_sender_until_it_goes(view: CaseView) -> None:
    item = view.pathway.item("inskrivningsmeddelande")
    assert late_lanes(view, item, se(1, 9)) == []  # due Tuesday 10:00
    still = [w for w in waits(view, se(2, 10)) if w.item_id == item.id]
    assert [(w.lane, w.step, w.waiting, w.days(se(2, 10))) for w in still] == [("slutenvard", "send", True, 1.0)]
    view.records[item.id] = ItemRecord(sent_at=se(1, 22))
    sent = [w for w in waits(view, se(2, 10)) if w.item_id == item.id]
    assert [(w.lane, w.waiting, round(w.days(se(9)), 3)) for w in sent] == [("slutenvard", False, 0.5)]


def test_each_receiving_lane_late_to_acknowledge_is_a_wait_of_its_own(view: CaseView) -> None:
    item = view.pathway.item("inskrivningsmeddelande")
    view.records[item.id] = ItemRecord(sent_at=se(1, 9), acks=[Ack("kommun", KOMMUN, se(3, 9))])
    late = [(w.lane, w.step, w.waiting) for w in waits(view, se(4, 12)) if w.item_id == item.id]
    # due to acknowledge Wednesday 2 December 16:00: the kommun acknowledged Thursday, öppenvård has not
    assert late == [("kommun", "ack", False), ("oppenvard", "ack", True)]


def test_a_lane_says_why_for_itself_and_a_coordinator_for_a_lane(view: CaseView) -> None:
    item = view.pathway.item("inskrivningsmeddelande")
    view.records[item.id] = ItemRecord(sent_at=se(1, 9))
    equipment = find_reason(view, "hjälpmedel")  # an alias, with its å/ä/ö
    assert equipment.id == "hjalpmedel" and equipment.code == "equipment"
    own = decide_reason(view, item, KOMMUN, equipment, se(3, 12))
    assert (own.lane, own.on_behalf, own.previous) == ("kommun", False, None)
    with pytest.raises(Refusal) as several:
        decide_reason(view, item, CORA, equipment, se(3, 12))  # two lanes late: say which
    assert several.value.key == "delay.say_which_lane"
    named = decide_reason(view, item, CORA, equipment, se(3, 12), lane_hint="oppenvard")
    assert (named.lane, named.on_behalf) == ("oppenvard", True)
    with pytest.raises(Refusal) as wrong:
        decide_reason(view, item, SLUTENVARD, equipment, se(3, 12))  # sent in time: the sender is not late
    assert wrong.value.key == "delay.wrong_lane"


def test_an_answer_given_again_changes_it_and_the_same_one_changes_nothing(view: CaseView) -> None:
    item = view.pathway.item("inskrivningsmeddelande")
    view.records[item.id] = ItemRecord(sent_at=se(1, 9))
    view.reasons[(item.id, "kommun")] = GivenReason(item.id, "kommun", "personal", "staff", KOMMUN, se(3, 9))
    again = decide_reason(view, item, KOMMUN, find_reason(view, "personal"), se(3, 12))
    other = decide_reason(view, item, KOMMUN, find_reason(view, "beslut"), se(3, 12))
    assert again.unchanged and not other.unchanged and other.previous is not None


def test_no_reason_for_an_item_that_is_not_late_and_no_word_the_pathway_lacks(view: CaseView) -> None:
    item = view.pathway.item("inskrivningsmeddelande")
    with pytest.raises(Refusal) as early:
        decide_reason(view, item, SLUTENVARD, find_reason(view, "annat"), se(1, 9))
    assert early.value.key == "delay.not_late"
    with pytest.raises(Refusal) as unknown:
        find_reason(view, "weather")
    assert unknown.value.key == "delay.unknown_reason" and "`hjalpmedel`" in unknown.value.values["reasons"]


def test_an_overdue_reminder_asks_a_lane_once_and_nobody_twice_a_day(view: CaseView) -> None:
    item = view.pathway.item("inskrivningsmeddelande")
    view.records[item.id] = ItemRecord(sent_at=se(1, 9))
    late = ["kommun", "oppenvard"]
    first = lanes_to_ask(view, item, late, [], se(3, 16))
    assert first == ["kommun", "oppenvard"]
    asked = [Ask(item.id, lane, se(3, 16)) for lane in first]
    assert lanes_to_ask(view, item, late, asked, se(4, 16)) == []  # asked about this item before: not again
    other = view.pathway.item("generellt-meddelande")
    view.records[other.id] = ItemRecord(sent_at=se(1, 9))
    assert lanes_to_ask(view, other, ["kommun"], asked, se(3, 18)) == []  # the same day: the kommun was asked
    assert lanes_to_ask(view, other, ["kommun"], asked, se(4, 9)) == ["kommun"]  # the next day it is


def test_a_lane_that_said_why_is_not_asked(view: CaseView) -> None:
    item = view.pathway.item("inskrivningsmeddelande")
    view.records[item.id] = ItemRecord(sent_at=se(1, 9))
    view.reasons[(item.id, "kommun")] = GivenReason(item.id, "kommun", "personal", "staff", KOMMUN, se(3, 9))
    assert lanes_to_ask(view, item, ["kommun", "oppenvard"], [], se(3, 16)) == ["oppenvard"]


def test_both_pathways_give_reasons_in_their_own_words_with_shared_codes_and_sources(
    pathways: dict[str, Pathway],
) -> None:
    for pathway in pathways.values():
        codes = [reason.code for reason in pathway.delay_reasons]
        assert set(codes) == set(REASON_CODES), pathway.id  # every shared code, so regions compare
        assert all(reason.source for reason in pathway.delay_reasons)
    training, medication = pathways["sthf"].find_reason("Opplæring"), pathways["orebro"].find_reason("lakemedel")
    assert training is not None and training.id == "opplaering"
    assert medication is not None and medication.label == "Väntar på läkemedel eller recept"


def _with_reasons(tmp_path: Path, reasons: str) -> Path:
    text = (default_pathways_dir() / "orebro.yaml").read_text(encoding="utf-8")
    start = text.index("delay_reasons:")
    end = text.index("# --- Words of the coordinated plan")
    path = tmp_path / "orebro.yaml"
    path.write_text(text[:start] + reasons + "\n" + text[end:], encoding="utf-8")
    return path


def test_a_reason_list_without_other_or_with_a_shared_word_is_refused(tmp_path: Path) -> None:
    path = _with_reasons(
        tmp_path,
        "delay_reasons:\n"
        "  - {id: utrustning, code: equipment, label: Utrustning, source: x}\n"
        "  - {id: apparat, code: staff, label: Personal, aliases: [utrustning], source: x}\n"
        "  - {id: väder, code: weather, label: Väder, source: x}\n",
    )
    with pytest.raises(PathwayError) as problems:
        load_pathway(path)
    text = str(problems.value)
    assert "delay_reasons[2].id: must be one lowercase ascii word" in text
    assert "delay_reasons[2].code: must be one of equipment" in text
    path = _with_reasons(
        tmp_path,
        "delay_reasons:\n"
        "  - {id: utrustning, code: equipment, label: Utrustning, source: x}\n"
        "  - {id: apparat, code: staff, label: Personal, aliases: [utrustning], source: x}\n",
    )
    with pytest.raises(PathwayError) as problems:
        load_pathway(path)
    text = str(problems.value)
    assert "'utrustning' also finds delay reason 'utrustning'" in text
    assert "needs a reason with code 'other'" in text


def test_a_rate_needs_its_years_in_order_and_a_source(tmp_path: Path) -> None:
    text = (default_pathways_dir() / "orebro.yaml").read_text(encoding="utf-8")
    text = text.replace("        - {year: 2022, amount: 9300}", "        - {year: 2018, amount: 9300}")
    path = tmp_path / "orebro.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PathwayError) as problems:
        load_pathway(path)
    assert "clocks[0].rate.amounts: list each year once, in increasing order" in str(problems.value)
    rate = load_pathways(default_pathways_dir())["sthf"].clocks[0].rate
    assert rate is not None and rate.amount_for(2023) == (5508, 2023) and rate.amount_for(2026) == (5745, 2024)
    assert rate.amount_for(2010) is None


def test_reading_a_wait_at_the_closing_ends_it_there(view: CaseView) -> None:
    closing = se(2, 10) + timedelta(hours=12)
    (wait,) = [w for w in waits(view, closing) if w.item_id == "inskrivningsmeddelande"]
    assert wait.days(closing) == 1.5
