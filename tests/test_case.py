"""Specification of a case's care logic (care/case.py) on the real pathway files.

Each test builds a `CaseView` by hand, as the store would load it, and checks one
behaviour: who may acknowledge or send what, when items are due, and how the
phase moves on.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from homeward.care.case import (
    Ack,
    AckDecision,
    CaseView,
    ItemRecord,
    Membership,
    decide_ack,
    decide_send,
    done_at,
    due_at,
    find_item,
    find_lane,
    item_state,
    lanes_to_acknowledge,
    missing_lanes,
    next_phase,
    phase_blockers,
)
from homeward.care.pathway import Pathway
from homeward.care.refusal import Refusal

STOCKHOLM = ZoneInfo("Europe/Stockholm")
OSLO = ZoneInfo("Europe/Oslo")
UTC = UTC

# People of the Örebro case.
SLUTENVARD = "@sara:example.org"
KOMMUN = "@karl:example.org"
OPPENVARD = "@olle:example.org"
PATIENT = "@pia:example.org"
COORDINATOR = "@cora:example.org"  # a coordinator without a lane
OUTSIDER = "@nobody:example.org"


@pytest.fixture
def orebro(pathways: dict[str, Pathway]) -> CaseView:
    """An Örebro case in its first phase: one member per care lane and the family, one coordinator."""
    return CaseView(
        pathway=pathways["orebro"],
        label="Måsen",
        phase_id="identifiering",
        dates={},
        members={
            SLUTENVARD: Membership(SLUTENVARD, "slutenvard", coordinator=False),
            KOMMUN: Membership(KOMMUN, "kommun", coordinator=False),
            OPPENVARD: Membership(OPPENVARD, "oppenvard", coordinator=False),
            PATIENT: Membership(PATIENT, "patient", coordinator=False),
            COORDINATOR: Membership(COORDINATOR, None, coordinator=True),
        },
        records={},
    )


@pytest.fixture
def sthf(pathways: dict[str, Pathway]) -> CaseView:
    return CaseView(
        pathway=pathways["sthf"],
        label="Sjøstjerne",
        phase_id="planlegge-utskrivning",
        dates={},
        members={},
        records={},
    )


def se(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """Local time in Örebro."""
    return datetime(year, month, day, hour, minute, tzinfo=STOCKHOLM)


def no(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """Local time in Skien."""
    return datetime(year, month, day, hour, minute, tzinfo=OSLO)


def send(view: CaseView, item_id: str, at: datetime, by: str = SLUTENVARD) -> None:
    record = view.records.setdefault(item_id, ItemRecord())
    record.sent_at = at
    record.sent_by = by


def ack(view: CaseView, item_id: str, lane: str, at: datetime, user_id: str = "@someone:example.org") -> None:
    view.records.setdefault(item_id, ItemRecord()).acks.append(Ack(lane=lane, user_id=user_id, at=at))


def refused(call, *args, **kwargs) -> Refusal:
    with pytest.raises(Refusal) as caught:
        call(*args, **kwargs)
    return caught.value


# --- tasks -----------------------------------------------------------------------------


def test_a_task_is_acknowledged_by_its_owner_lane(orebro: CaseView) -> None:
    task = orebro.pathway.item("konsultation")  # slutenvård's task
    assert decide_ack(orebro, task, SLUTENVARD) == AckDecision("slutenvard", on_behalf=False)


def test_a_task_is_done_when_its_owner_lane_has_acknowledged(orebro: CaseView) -> None:
    task = orebro.pathway.item("konsultation")
    assert lanes_to_acknowledge(task) == ["slutenvard"]
    ack(orebro, "konsultation", "slutenvard", se(2026, 3, 2, 9))
    assert missing_lanes(orebro, task) == []
    assert done_at(orebro, task) == se(2026, 3, 2, 9)
    assert item_state(orebro, task, se(2026, 3, 2, 10)) == "done"


def test_a_done_item_cannot_be_acknowledged_again(orebro: CaseView) -> None:
    task = orebro.pathway.item("konsultation")
    ack(orebro, "konsultation", "slutenvard", se(2026, 3, 2, 9))
    assert refused(decide_ack, orebro, task, SLUTENVARD).key == "care.already_done"


# --- notices: every recipient lane -----------------------------------------------------


def test_a_notice_needs_every_recipient_lane(orebro: CaseView) -> None:
    notice = orebro.pathway.item("inskrivningsmeddelande")
    assert lanes_to_acknowledge(notice) == ["kommun", "oppenvard"]


def test_a_notice_acknowledged_by_one_recipient_lane_is_not_done(orebro: CaseView) -> None:
    notice = orebro.pathway.item("inskrivningsmeddelande")
    send(orebro, notice.id, se(2026, 3, 2, 9))
    ack(orebro, notice.id, "kommun", se(2026, 3, 2, 10))
    assert missing_lanes(orebro, notice) == ["oppenvard"]
    assert done_at(orebro, notice) is None
    assert item_state(orebro, notice, se(2026, 3, 2, 11)) == "open"


def test_a_notice_is_done_when_the_last_recipient_lane_acknowledges(orebro: CaseView) -> None:
    notice = orebro.pathway.item("inskrivningsmeddelande")
    send(orebro, notice.id, se(2026, 3, 2, 9))
    ack(orebro, notice.id, "kommun", se(2026, 3, 2, 10))
    ack(orebro, notice.id, "oppenvard", se(2026, 3, 2, 12))
    assert missing_lanes(orebro, notice) == []
    assert done_at(orebro, notice) == se(2026, 3, 2, 12)
    assert item_state(orebro, notice, se(2026, 3, 2, 13)) == "done"


def test_each_recipient_lane_acknowledges_for_itself(orebro: CaseView) -> None:
    notice = orebro.pathway.item("inskrivningsmeddelande")
    send(orebro, notice.id, se(2026, 3, 2, 9))
    assert decide_ack(orebro, notice, KOMMUN) == AckDecision("kommun", on_behalf=False)
    assert decide_ack(orebro, notice, OPPENVARD) == AckDecision("oppenvard", on_behalf=False)


def test_acknowledging_an_unsent_notice_is_refused(orebro: CaseView) -> None:
    notice = orebro.pathway.item("inskrivningsmeddelande")
    refusal = refused(decide_ack, orebro, notice, KOMMUN)
    assert refusal.key == "care.notice_not_sent"
    assert refusal.values == {"item": "inskrivningsmeddelande", "sender": "Slutenvård"}


def test_a_lane_that_has_acknowledged_cannot_acknowledge_again(orebro: CaseView) -> None:
    notice = orebro.pathway.item("inskrivningsmeddelande")
    send(orebro, notice.id, se(2026, 3, 2, 9))
    ack(orebro, notice.id, "kommun", se(2026, 3, 2, 10))
    assert refused(decide_ack, orebro, notice, KOMMUN).key == "care.lane_already_acked"


# --- who may acknowledge ---------------------------------------------------------------


def test_a_member_of_another_lane_is_refused_with_the_lanes_that_can(orebro: CaseView) -> None:
    notice = orebro.pathway.item("inskrivningsmeddelande")
    send(orebro, notice.id, se(2026, 3, 2, 9))
    refusal = refused(decide_ack, orebro, notice, PATIENT)
    assert refusal.key == "care.wrong_lane_for_ack"
    assert refusal.values == {"item": "inskrivningsmeddelande", "lanes": "Kommun, Öppenvård"}


def test_the_sender_lane_cannot_acknowledge_its_own_notice(orebro: CaseView) -> None:
    notice = orebro.pathway.item("inskrivningsmeddelande")
    send(orebro, notice.id, se(2026, 3, 2, 9))
    assert refused(decide_ack, orebro, notice, SLUTENVARD).key == "care.wrong_lane_for_ack"


def test_the_wrong_lane_refusal_names_only_the_lanes_still_missing(orebro: CaseView) -> None:
    notice = orebro.pathway.item("inskrivningsmeddelande")
    send(orebro, notice.id, se(2026, 3, 2, 9))
    ack(orebro, notice.id, "kommun", se(2026, 3, 2, 10))
    assert refused(decide_ack, orebro, notice, PATIENT).values["lanes"] == "Öppenvård"


def test_a_member_of_another_lane_cannot_acknowledge_a_task(orebro: CaseView) -> None:
    task = orebro.pathway.item("konsultation")
    refusal = refused(decide_ack, orebro, task, KOMMUN)
    assert refusal.key == "care.wrong_lane_for_ack"
    assert refusal.values["lanes"] == "Slutenvård"


def test_a_coordinator_without_a_lane_acknowledges_for_the_single_missing_lane(orebro: CaseView) -> None:
    notice = orebro.pathway.item("inskrivningsmeddelande")
    send(orebro, notice.id, se(2026, 3, 2, 9))
    ack(orebro, notice.id, "kommun", se(2026, 3, 2, 10))
    assert decide_ack(orebro, notice, COORDINATOR) == AckDecision("oppenvard", on_behalf=True)


def test_a_coordinators_reaction_never_acknowledges_on_behalf_of_the_single_missing_lane(orebro: CaseView) -> None:
    notice = orebro.pathway.item("inskrivningsmeddelande")
    send(orebro, notice.id, se(2026, 3, 2, 9))
    ack(orebro, notice.id, "kommun", se(2026, 3, 2, 10))
    refusal = refused(decide_ack, orebro, notice, COORDINATOR, own_lane_only=True)
    assert refusal.key == "care.reaction_own_lane_only"
    assert refusal.values == {"item": "inskrivningsmeddelande", "lanes": "Öppenvård"}


def test_a_coordinators_reaction_acknowledges_for_their_own_receiving_lane(orebro: CaseView) -> None:
    orebro.members[KOMMUN] = Membership(KOMMUN, "kommun", coordinator=True)
    notice = orebro.pathway.item("inskrivningsmeddelande")
    send(orebro, notice.id, se(2026, 3, 2, 9))
    assert decide_ack(orebro, notice, KOMMUN, own_lane_only=True) == AckDecision("kommun", on_behalf=False)


def test_a_members_reaction_for_a_lane_not_theirs_is_refused_as_a_typed_ack_would_be(orebro: CaseView) -> None:
    notice = orebro.pathway.item("inskrivningsmeddelande")
    send(orebro, notice.id, se(2026, 3, 2, 9))
    assert refused(decide_ack, orebro, notice, PATIENT, own_lane_only=True).key == "care.wrong_lane_for_ack"


def test_a_coordinator_acknowledges_a_task_on_behalf_of_its_owner(orebro: CaseView) -> None:
    task = orebro.pathway.item("konsultation")
    assert decide_ack(orebro, task, COORDINATOR) == AckDecision("slutenvard", on_behalf=True)


def test_a_coordinator_must_name_the_lane_when_several_are_missing(orebro: CaseView) -> None:
    notice = orebro.pathway.item("inskrivningsmeddelande")
    send(orebro, notice.id, se(2026, 3, 2, 9))
    refusal = refused(decide_ack, orebro, notice, COORDINATOR)
    assert refusal.key == "care.say_which_lane"
    assert refusal.values["item"] == "inskrivningsmeddelande"
    assert "kommun" in refusal.values["lanes"] and "oppenvard" in refusal.values["lanes"]


def test_a_coordinator_who_names_a_missing_lane_acknowledges_for_it(orebro: CaseView) -> None:
    notice = orebro.pathway.item("inskrivningsmeddelande")
    send(orebro, notice.id, se(2026, 3, 2, 9))
    decision = decide_ack(orebro, notice, COORDINATOR, lane_hint="kommun")
    assert decision == AckDecision("kommun", on_behalf=True)


def test_a_coordinator_who_names_a_lane_that_is_not_waiting_is_refused(orebro: CaseView) -> None:
    notice = orebro.pathway.item("inskrivningsmeddelande")
    send(orebro, notice.id, se(2026, 3, 2, 9))
    ack(orebro, notice.id, "kommun", se(2026, 3, 2, 10))
    refusal = refused(decide_ack, orebro, notice, COORDINATOR, lane_hint="kommun")
    assert refusal.key == "care.lane_not_waiting"
    assert refusal.values["lanes"] == "Öppenvård"


def test_a_coordinator_in_a_recipient_lane_acknowledges_for_their_own_lane(orebro: CaseView) -> None:
    orebro.members[KOMMUN] = Membership(KOMMUN, "kommun", coordinator=True)
    notice = orebro.pathway.item("inskrivningsmeddelande")
    send(orebro, notice.id, se(2026, 3, 2, 9))
    assert decide_ack(orebro, notice, KOMMUN) == AckDecision("kommun", on_behalf=False)


def test_a_non_member_cannot_acknowledge(orebro: CaseView) -> None:
    task = orebro.pathway.item("konsultation")
    assert refused(decide_ack, orebro, task, OUTSIDER).key == "care.not_a_member"


def test_a_member_who_names_another_lane_while_their_own_is_missing_is_not_told_they_acked(
    orebro: CaseView,
) -> None:
    """BUG in care/case.py (decide_ack): fails today.

    Kommun has not acknowledged yet; a kommun member (not a coordinator) types
    "!ack inskrivningsmeddelande oppenvard". The first branch is skipped because the
    hint differs from their lane, the coordinator branch does not apply, and the
    next test only asks whether kommun is *a* recipient lane, so the refusal is
    "care.lane_already_acked" - telling them kommun has already acknowledged, which
    is false. It should be "care.wrong_lane_for_ack" (or similar), not a statement
    that their lane is done.
    """
    notice = orebro.pathway.item("inskrivningsmeddelande")
    send(orebro, notice.id, se(2026, 3, 2, 9))
    refusal = refused(decide_ack, orebro, notice, KOMMUN, lane_hint="oppenvard")
    assert refusal.key != "care.lane_already_acked"


# --- who may send ------------------------------------------------------------------------


def test_the_sender_lane_sends_a_notice_itself(orebro: CaseView) -> None:
    notice = orebro.pathway.item("inskrivningsmeddelande")
    assert decide_send(orebro, notice, SLUTENVARD) is False


def test_a_coordinator_sends_a_notice_on_behalf_of_the_sender_lane(orebro: CaseView) -> None:
    notice = orebro.pathway.item("inskrivningsmeddelande")
    assert decide_send(orebro, notice, COORDINATOR) is True


def test_a_member_of_another_lane_cannot_send_a_notice(orebro: CaseView) -> None:
    notice = orebro.pathway.item("inskrivningsmeddelande")
    refusal = refused(decide_send, orebro, notice, KOMMUN)
    assert refusal.key == "care.wrong_lane_for_send"
    assert refusal.values == {"item": "inskrivningsmeddelande", "lane": "Slutenvård"}


def test_a_notice_cannot_be_sent_twice(orebro: CaseView) -> None:
    notice = orebro.pathway.item("inskrivningsmeddelande")
    send(orebro, notice.id, se(2026, 3, 2, 9))
    refusal = refused(decide_send, orebro, notice, SLUTENVARD)
    assert refusal.key == "care.already_sent"
    assert refusal.values == {"item": "inskrivningsmeddelande"}


def test_a_task_cannot_be_sent(orebro: CaseView) -> None:
    task = orebro.pathway.item("konsultation")
    refusal = refused(decide_send, orebro, task, SLUTENVARD)
    assert refusal.key == "care.not_a_notice"
    assert refusal.values == {"item": "konsultation"}


def test_a_non_member_cannot_send(orebro: CaseView) -> None:
    notice = orebro.pathway.item("inskrivningsmeddelande")
    assert refused(decide_send, orebro, notice, OUTSIDER).key == "care.not_a_member"


# --- due times -----------------------------------------------------------------------------


def test_inskrivningsmeddelande_is_due_24_hours_after_admission(orebro: CaseView) -> None:
    orebro.dates["admission"] = se(2026, 3, 2, 14, 30)
    notice = orebro.pathway.item("inskrivningsmeddelande")
    assert due_at(orebro, notice) == se(2026, 3, 3, 14, 30)


def test_24_hours_are_elapsed_hours_across_a_dst_night(orebro: CaseView) -> None:
    # Sweden springs forward on 29 March 2026: 24 hours later is 15:30 on the clock.
    orebro.dates["admission"] = se(2026, 3, 28, 14, 30)
    notice = orebro.pathway.item("inskrivningsmeddelande")
    assert due_at(orebro, notice) == se(2026, 3, 29, 15, 30)


def test_an_item_anchored_on_an_unset_date_has_no_due_time(orebro: CaseView) -> None:
    notice = orebro.pathway.item("inskrivningsmeddelande")
    assert due_at(orebro, notice) is None


def test_an_item_without_a_due_rule_has_no_due_time(orebro: CaseView) -> None:
    assert due_at(orebro, orebro.pathway.item("konsultation")) is None


def test_kallelse_sip_has_no_due_time_before_utskrivningsklarmeddelande_is_sent(orebro: CaseView) -> None:
    assert due_at(orebro, orebro.pathway.item("kallelse-sip")) is None


def test_kallelse_sip_is_due_3_days_after_utskrivningsklarmeddelande_was_sent(orebro: CaseView) -> None:
    send(orebro, "utskrivningsklarmeddelande", se(2026, 3, 2, 14))
    assert due_at(orebro, orebro.pathway.item("kallelse-sip")) == se(2026, 3, 5, 14)


def test_kallelse_sip_counts_from_sending_not_from_the_acknowledgements(orebro: CaseView) -> None:
    send(orebro, "utskrivningsklarmeddelande", se(2026, 3, 2, 14))
    ack(orebro, "utskrivningsklarmeddelande", "kommun", se(2026, 3, 4, 9))
    ack(orebro, "utskrivningsklarmeddelande", "oppenvard", se(2026, 3, 4, 10))
    assert due_at(orebro, orebro.pathway.item("kallelse-sip")) == se(2026, 3, 5, 14)


def test_planleggingsmote_1_is_due_14_days_after_case_start(sthf: CaseView) -> None:
    sthf.dates["case_start"] = no(2026, 3, 2, 11)
    assert due_at(sthf, sthf.pathway.item("planleggingsmote-1")) == no(2026, 3, 16, 11)


def test_a_bare_date_anchor_falls_due_at_the_end_of_the_working_day(sthf: CaseView) -> None:
    sthf.dates["case_start"] = date(2026, 3, 2)
    assert due_at(sthf, sthf.pathway.item("planleggingsmote-1")) == no(2026, 3, 16, 16)


def test_a_sent_notice_is_due_to_be_acknowledged_by_the_next_working_day(orebro: CaseView) -> None:
    # default_ack_due: 1 working day at 16:00, the end of the next working day:
    # sent Friday 10:00 -> due Monday 16:00.
    orebro.dates["admission"] = se(2026, 3, 5, 12)
    send(orebro, "inskrivningsmeddelande", se(2026, 3, 6, 10))
    assert due_at(orebro, orebro.pathway.item("inskrivningsmeddelande")) == se(2026, 3, 9, 16)


def test_the_acknowledgement_deadline_replaces_the_sending_deadline(orebro: CaseView) -> None:
    # Sent late (admission + 24 h was Friday 12:00); the receivers still get a working day.
    orebro.dates["admission"] = se(2026, 3, 5, 12)
    send(orebro, "inskrivningsmeddelande", se(2026, 3, 6, 15))
    assert due_at(orebro, orebro.pathway.item("inskrivningsmeddelande")) == se(2026, 3, 9, 16)


def test_the_acknowledgement_deadline_skips_swedish_days_off(orebro: CaseView) -> None:
    # 24 Dec (Julafton, de facto off), 25-26 Dec holidays, 27 Dec Sunday.
    send(orebro, "inskrivningsmeddelande", se(2026, 12, 23, 10))
    assert due_at(orebro, orebro.pathway.item("inskrivningsmeddelande")) == se(2026, 12, 28, 16)


def test_due_times_are_returned_in_utc(orebro: CaseView) -> None:
    orebro.dates["admission"] = se(2026, 3, 2, 14, 30)
    due = due_at(orebro, orebro.pathway.item("inskrivningsmeddelande"))
    assert due is not None and due.utcoffset() == timedelta(0)


# --- item state ------------------------------------------------------------------------------


def test_an_item_before_its_due_time_is_open(orebro: CaseView) -> None:
    orebro.dates["admission"] = se(2026, 3, 2, 14)
    notice = orebro.pathway.item("inskrivningsmeddelande")
    assert item_state(orebro, notice, se(2026, 3, 3, 13, 59)) == "open"


def test_an_item_at_its_due_time_is_still_open(orebro: CaseView) -> None:
    orebro.dates["admission"] = se(2026, 3, 2, 14)
    notice = orebro.pathway.item("inskrivningsmeddelande")
    assert item_state(orebro, notice, se(2026, 3, 3, 14)) == "open"


def test_an_item_past_its_due_time_is_overdue(orebro: CaseView) -> None:
    orebro.dates["admission"] = se(2026, 3, 2, 14)
    notice = orebro.pathway.item("inskrivningsmeddelande")
    assert item_state(orebro, notice, se(2026, 3, 3, 14, 1)) == "overdue"


def test_an_item_without_a_due_time_is_never_overdue(orebro: CaseView) -> None:
    task = orebro.pathway.item("konsultation")
    assert item_state(orebro, task, se(2030, 1, 1)) == "open"


def test_a_sent_notice_is_overdue_when_not_acknowledged_in_time(orebro: CaseView) -> None:
    send(orebro, "inskrivningsmeddelande", se(2026, 3, 6, 10))
    ack(orebro, "inskrivningsmeddelande", "kommun", se(2026, 3, 6, 11))
    notice = orebro.pathway.item("inskrivningsmeddelande")
    assert item_state(orebro, notice, se(2026, 3, 9, 16, 1)) == "overdue"


def test_a_done_item_stays_done_after_its_due_time(orebro: CaseView) -> None:
    orebro.dates["admission"] = se(2026, 3, 2, 14)
    send(orebro, "inskrivningsmeddelande", se(2026, 3, 2, 15))
    ack(orebro, "inskrivningsmeddelande", "kommun", se(2026, 3, 2, 16))
    ack(orebro, "inskrivningsmeddelande", "oppenvard", se(2026, 3, 2, 17))
    notice = orebro.pathway.item("inskrivningsmeddelande")
    assert item_state(orebro, notice, se(2026, 4, 1)) == "done"


def test_asking_for_a_state_does_not_change_the_records(orebro: CaseView) -> None:
    """BUG in care/case.py (CaseView.record): fails today.

    `CaseView.record` uses `records.setdefault`, so the read-only queries
    (`missing_lanes`, `due_at`, `item_state`, `completed_at`, `decide_*`) insert an
    empty `ItemRecord` for every item they look at. Code that walks the records
    and asks for states therefore fails with "dictionary changed size during
    iteration" as soon as an item's due rule points at an item without a record
    (here: unsent kallelse-sip -> utskrivningsklarmeddelande, via `completed_at`),
    and even without iterating, a store that saves
    `view.records` back would write empty rows.
    """
    orebro.records["kallelse-sip"] = ItemRecord(assigned_to=OPPENVARD)  # not sent yet
    states = {
        item_id: item_state(orebro, orebro.pathway.item(item_id), se(2026, 3, 2, 10)) for item_id in orebro.records
    }
    assert states == {"kallelse-sip": "open"}
    assert set(orebro.records) == {"kallelse-sip"}


# --- phases ----------------------------------------------------------------------------------


def test_phase_blockers_are_the_mandatory_open_items_of_the_current_phase(orebro: CaseView) -> None:
    # konsultation is optional (mandatory: false), so it never holds the phase.
    assert [i.id for i in phase_blockers(orebro)] == [
        "inskrivning",
        "inskrivningsmeddelande",
        "generellt-meddelande",
        "kontaktperson-kommun",
    ]


def test_a_done_item_no_longer_blocks_the_phase(orebro: CaseView) -> None:
    ack(orebro, "inskrivning", "patient", se(2026, 3, 2, 9))
    assert "inskrivning" not in [i.id for i in phase_blockers(orebro)]


def test_a_notice_acknowledged_by_one_of_two_lanes_still_blocks_the_phase(orebro: CaseView) -> None:
    send(orebro, "inskrivningsmeddelande", se(2026, 3, 2, 9))
    ack(orebro, "inskrivningsmeddelande", "kommun", se(2026, 3, 2, 10))
    assert "inskrivningsmeddelande" in [i.id for i in phase_blockers(orebro)]


def test_phase_blockers_ignore_other_phases(orebro: CaseView) -> None:
    orebro.phase_id = "uppfoljning"
    assert [i.id for i in phase_blockers(orebro)] == [
        "kallelse-uppfoljning-sip",
        "uppfoljning-sip",
        "fortsatta-insatser",
        "uppfoljning-patient",
    ]


def test_a_phase_with_everything_done_has_no_blockers(orebro: CaseView) -> None:
    orebro.phase_id = "uppfoljning"
    send(orebro, "kallelse-uppfoljning-sip", se(2026, 5, 1, 9), by=OPPENVARD)
    ack(orebro, "kallelse-uppfoljning-sip", "kommun", se(2026, 5, 1, 10))
    ack(orebro, "uppfoljning-sip", "oppenvard", se(2026, 6, 1, 10))
    ack(orebro, "fortsatta-insatser", "kommun", se(2026, 6, 1, 10))
    ack(orebro, "uppfoljning-patient", "patient", se(2026, 6, 1, 10))
    assert phase_blockers(orebro) == []


def test_next_phase_is_the_following_phase(orebro: CaseView) -> None:
    following = next_phase(orebro)
    assert following is not None and following.id == "planering"


def test_there_is_no_phase_after_the_last(orebro: CaseView) -> None:
    orebro.phase_id = "uppfoljning"
    assert next_phase(orebro) is None


# --- finding items and lanes ---------------------------------------------------------------


@pytest.mark.parametrize("typed", ["kallelse-sip", "Kallelse-SIP", "KALLELSE-SIP", "  kallelse-sip "])
def test_find_item_ignores_case_and_surrounding_spaces(orebro: CaseView, typed: str) -> None:
    assert find_item(orebro, typed).id == "kallelse-sip"


def test_find_item_finds_items_of_any_phase(orebro: CaseView) -> None:
    assert find_item(orebro, "uppfoljning-patient").id == "uppfoljning-patient"


def test_find_item_refuses_an_unknown_id_with_near_matches(orebro: CaseView) -> None:
    refusal = refused(find_item, orebro, "kallelse")
    assert refusal.key == "care.unknown_item_near"
    assert refusal.values["item"] == "kallelse"
    assert "kallelse-sip" in refusal.values["near"]
    assert "kallelse-uppfoljning-sip" in refusal.values["near"]


def test_find_item_refuses_an_unknown_id_without_near_matches(orebro: CaseView) -> None:
    refusal = refused(find_item, orebro, "xyzzy")
    assert refusal.key == "care.unknown_item"
    assert refusal.values == {"item": "xyzzy"}  # no "Similar: —" when nothing is


@pytest.mark.parametrize(
    "typed", ["slutenvård", "slutenvard", "Slutenvård", "SLUTENVARD", "slutenvaard", "slutenvården"]
)
def test_find_lane_accepts_the_ways_people_write_a_lane(orebro: CaseView, typed: str) -> None:
    assert find_lane(orebro, typed).id == "slutenvard"


def test_find_lane_refuses_an_unknown_lane_and_lists_the_lanes(orebro: CaseView) -> None:
    refusal = refused(find_lane, orebro, "apoteket")
    assert refusal.key == "care.unknown_lane"
    assert refusal.values["lane"] == "apoteket"
    assert refusal.values["lanes"] == "patient, vardnadshavare, barn, kommun, oppenvard, slutenvard"


def test_case_view_record_starts_empty(orebro: CaseView) -> None:
    assert orebro.record("konsultation") == ItemRecord()


def test_the_planning_meeting_before_discharge_is_due_the_working_day_before_the_tentative_date(sthf: CaseView) -> None:
    sthf.dates["discharge"] = date(2026, 12, 14)  # a Monday
    due = due_at(sthf, sthf.pathway.item("planleggingsmote-for-utskrivelse"))
    assert due is not None and due < no(2026, 12, 14)
    assert due.astimezone(ZoneInfo("Europe/Oslo")).date() <= date(2026, 12, 13)


def test_the_plo_message_is_due_when_the_tentative_discharge_date_was_estimated(sthf: CaseView) -> None:
    sthf.records.setdefault("tentativ-ut-dato", ItemRecord()).acks.append(
        Ack(lane="sykehus", user_id="@lege:example.org", at=no(2026, 12, 1, 11))
    )
    assert due_at(sthf, sthf.pathway.item("plo")) == no(2026, 12, 1, 11)


def test_the_sip_follow_up_is_due_on_its_follow_up_date(orebro: CaseView) -> None:
    orebro.dates["followup"] = date(2027, 2, 10)
    due = due_at(orebro, orebro.pathway.item("uppfoljning-sip"))
    assert due is not None and due.astimezone(ZoneInfo("Europe/Stockholm")).date() == date(2027, 2, 10)
