"""Specification of reminder planning (care/reminders.py) on the real pathway files.

Which reminders a case should have at a given moment (`desired_reminders`), who a
reminder mentions (`recipients`, `audience_lanes`), what it tells them to do
(`how_to`) and a room's quiet hours (`quiet_hours`). Each test builds a `CaseView`
by hand, as the store would load it, and checks one behaviour.

The running example is the Örebro pathway's `inskrivningsmeddelande`, a notice that
slutenvården sends to kommun and öppenvård within 24 hours of admission: admitted
Monday 30 November 2026 at 10:00, it is due Tuesday 1 December at 10:00.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from homeward.care.calendar import QuietHours
from homeward.care.case import Ack, CaseView, ItemRecord, Membership, due_at
from homeward.care.deadlines import ReminderPolicy
from homeward.care.pathway import Item, Pathway
from homeward.care.reminders import (
    Identity,
    audience_lanes,
    desired_reminders,
    how_to,
    policy_for,
    quiet_hours,
    recipients,
)

STOCKHOLM = ZoneInfo("Europe/Stockholm")
UTC = UTC
NOTICE = "inskrivningsmeddelande"

# People of the Örebro case.
SARA = "@sara:example.org"  # slutenvård
SIV = "@siv:example.org"  # slutenvård
KARL = "@karl:example.org"  # kommun
OLLE = "@olle:example.org"  # öppenvård
PIA = "@pia:example.org"  # patient/närstående
CORA = "@cora:example.org"  # a coordinator without a lane
CURT = "@curt:example.org"  # a coordinator in the slutenvård lane


def se(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """Local time in Örebro."""
    return datetime(year, month, day, hour, minute, tzinfo=STOCKHOLM)


ADMITTED = se(2026, 11, 30, 10, 0)  # a Monday
DUE = se(2026, 12, 1, 10, 0)  # 24 hours later


@pytest.fixture
def case(pathways: dict[str, Pathway]) -> CaseView:
    """An Örebro case in its first phase, admission not set yet: nothing has a due time."""
    return CaseView(
        pathway=pathways["orebro"],
        label="Måsen",
        phase_id="identifiering",
        dates={},
        members={
            SARA: Membership(SARA, "slutenvard", coordinator=False),
            SIV: Membership(SIV, "slutenvard", coordinator=False),
            KARL: Membership(KARL, "kommun", coordinator=False),
            OLLE: Membership(OLLE, "oppenvard", coordinator=False),
            PIA: Membership(PIA, "patient", coordinator=False),
            CORA: Membership(CORA, None, coordinator=True),
        },
        records={},
    )


@pytest.fixture
def admitted(case: CaseView) -> CaseView:
    """The same case with admission on Monday 30 November 2026 at 10:00."""
    case.dates["admission"] = ADMITTED
    return case


def item(view: CaseView, item_id: str = NOTICE) -> Item:
    return view.pathway.item(item_id)


def send(view: CaseView, item_id: str, at: datetime, by: str = SARA) -> None:
    record = view.records.setdefault(item_id, ItemRecord())
    record.sent_at = at
    record.sent_by = by


def ack(view: CaseView, item_id: str, lane: str, at: datetime, user_id: str = "@someone:example.org") -> None:
    view.records.setdefault(item_id, ItemRecord()).acks.append(Ack(lane=lane, user_id=user_id, at=at))


def assign(view: CaseView, item_id: str, user_id: str) -> None:
    view.records.setdefault(item_id, ItemRecord()).assigned_to = user_id


def wall(moment: datetime) -> tuple[int, int, int, int, int]:
    """Örebro wall clock (y, m, d, H, M) of an instant, to compare readably."""
    local = moment.astimezone(STOCKHOLM)
    return (local.year, local.month, local.day, local.hour, local.minute)


def plan(
    view: CaseView,
    now: datetime,
    already: set[Identity] | None = None,
    policy: ReminderPolicy | None = None,
) -> list[tuple[str, str, int, tuple[int, ...]]]:
    """desired_reminders as (item, kind, sequence, planned wall clock), in planning order."""
    wanted = desired_reminders(view, policy or policy_for(None), now, already or set())
    return [(w.item_id, w.kind, w.sequence, wall(w.planned_at)) for w in wanted]


def sent_key(kind: str, sequence: int = 0, due: datetime = DUE, item_id: str = NOTICE) -> Identity:
    """The identity of a reminder that went out, as `store.reminders.sent_keys` gives it."""
    return (item_id, kind, sequence, due.astimezone(UTC))


# --- desired_reminders: what is planned ------------------------------------------------


def test_a_case_without_dates_wants_no_reminders(case: CaseView) -> None:
    assert desired_reminders(case, policy_for(None), se(2026, 11, 30, 9, 0), set()) == []


def test_an_item_without_a_due_time_gets_no_reminders(admitted: CaseView) -> None:
    # konsultation has no due rule at all; only the admission-anchored notice is planned.
    wanted = desired_reminders(admitted, policy_for(None), se(2026, 11, 30, 9, 0), set())
    assert {w.item_id for w in wanted} == {NOTICE}


def test_an_item_anchored_on_an_unfinished_item_gets_no_reminders(admitted: CaseView) -> None:
    # kallelse-sip is due 3 days after utskrivningsklarmeddelande is sent; it has not been.
    wanted = desired_reminders(admitted, policy_for(None), se(2026, 11, 30, 9, 0), set())
    assert "kallelse-sip" not in {w.item_id for w in wanted}


def test_a_notice_due_tomorrow_gets_an_early_a_due_and_one_overdue_reminder(admitted: CaseView) -> None:
    assert plan(admitted, se(2026, 11, 30, 9, 0)) == [
        (NOTICE, "before", 0, (2026, 11, 30, 10, 0)),  # one working day before the due time
        (NOTICE, "due", 0, (2026, 12, 1, 10, 0)),
        (NOTICE, "overdue", 1, (2026, 12, 2, 10, 0)),
    ]


def test_every_wanted_reminder_carries_the_items_due_time_in_utc(admitted: CaseView) -> None:
    wanted = desired_reminders(admitted, policy_for(None), se(2026, 11, 30, 9, 0), set())
    assert {w.due for w in wanted} == {DUE}
    assert all(w.due.utcoffset() == timedelta(0) and w.planned_at.utcoffset() == timedelta(0) for w in wanted)
    assert wanted[0].due == due_at(admitted, item(admitted))


def test_a_reminder_whose_time_has_passed_is_not_made_up_when_planned_later(admitted: CaseView) -> None:
    # Planned on Tuesday at 11:00: the early (Mon 10:00) and due (Tue 10:00) reminders are history.
    assert plan(admitted, se(2026, 12, 1, 11, 0)) == [(NOTICE, "overdue", 1, (2026, 12, 2, 10, 0))]


def test_a_missed_overdue_repeat_is_not_made_up_the_next_one_is_planned(admitted: CaseView) -> None:
    # Nothing was ever sent, and it is Wednesday 11:00: the first repeat's time has passed.
    assert plan(admitted, se(2026, 12, 2, 11, 0)) == [(NOTICE, "overdue", 2, (2026, 12, 3, 10, 0))]


def test_only_the_next_overdue_repeat_is_planned_in_advance(admitted: CaseView) -> None:
    overdue = [seq for _, kind, seq, _ in plan(admitted, se(2026, 11, 30, 9, 0)) if kind == "overdue"]
    assert overdue == [1]


def test_after_the_first_overdue_repeat_went_out_the_second_is_planned(admitted: CaseView) -> None:
    just_after = se(2026, 12, 2, 10, 0) + timedelta(seconds=1)
    assert plan(admitted, just_after, {sent_key("before"), sent_key("due"), sent_key("overdue", 1)}) == [
        (NOTICE, "overdue", 2, (2026, 12, 3, 10, 0)),
    ]


def test_an_overdue_repeat_that_went_out_is_never_wanted_again(admitted: CaseView) -> None:
    # Even when "now" is before its time (a clock set back), sequence 1 is not planned twice.
    assert plan(admitted, se(2026, 11, 30, 9, 0), {sent_key("overdue", 1)}) == [
        (NOTICE, "before", 0, (2026, 11, 30, 10, 0)),
        (NOTICE, "due", 0, (2026, 12, 1, 10, 0)),
        (NOTICE, "overdue", 2, (2026, 12, 3, 10, 0)),
    ]


def test_early_and_due_reminders_that_went_out_are_not_wanted_again(admitted: CaseView) -> None:
    assert plan(admitted, se(2026, 11, 30, 9, 0), {sent_key("before"), sent_key("due")}) == [
        (NOTICE, "overdue", 1, (2026, 12, 2, 10, 0)),
    ]


def test_reminders_sent_for_an_earlier_due_time_do_not_count_after_the_date_moved(admitted: CaseView) -> None:
    earlier_due = DUE - timedelta(days=7)
    already = {
        sent_key("before", due=earlier_due),
        sent_key("due", due=earlier_due),
        sent_key("overdue", 1, due=earlier_due),
    }
    assert plan(admitted, se(2026, 11, 30, 9, 0), already) == [
        (NOTICE, "before", 0, (2026, 11, 30, 10, 0)),
        (NOTICE, "due", 0, (2026, 12, 1, 10, 0)),
        (NOTICE, "overdue", 1, (2026, 12, 2, 10, 0)),
    ]


def test_overdue_repeats_skip_the_swedish_christmas_days_off(case: CaseView) -> None:
    case.dates["admission"] = se(2026, 12, 21, 10, 0)  # due Tue 22 Dec, first repeat Wed 23 Dec
    due = se(2026, 12, 22, 10, 0)
    already = {sent_key("before", due=due), sent_key("due", due=due), sent_key("overdue", 1, due=due)}
    # Julafton (de facto), Juldagen, Annandag jul and the weekend are skipped.
    assert plan(case, se(2026, 12, 23, 10, 1), already) == [(NOTICE, "overdue", 2, (2026, 12, 28, 10, 0))]


def test_a_done_item_wants_no_reminders(admitted: CaseView) -> None:
    send(admitted, NOTICE, se(2026, 11, 30, 11, 0))
    ack(admitted, NOTICE, "kommun", se(2026, 11, 30, 12, 0))
    ack(admitted, NOTICE, "oppenvard", se(2026, 11, 30, 13, 0))
    assert plan(admitted, se(2026, 11, 30, 14, 0)) == []


def test_a_sent_notice_is_reminded_against_its_acknowledgement_due_time(admitted: CaseView) -> None:
    # Sent Monday 11:00: acknowledgements are due one working day later at 16:00 (pathway setting).
    send(admitted, NOTICE, se(2026, 11, 30, 11, 0))
    wanted = desired_reminders(admitted, policy_for(None), se(2026, 11, 30, 11, 0), set())
    assert {w.due for w in wanted} == {se(2026, 12, 1, 16, 0)}
    assert [(w.kind, w.sequence, wall(w.planned_at)) for w in wanted] == [
        ("before", 0, (2026, 11, 30, 16, 0)),
        ("due", 0, (2026, 12, 1, 16, 0)),
        ("overdue", 1, (2026, 12, 2, 16, 0)),
    ]


def test_a_notice_acknowledged_by_one_lane_is_still_reminded_for_the_other(admitted: CaseView) -> None:
    send(admitted, NOTICE, se(2026, 11, 30, 11, 0))
    ack(admitted, NOTICE, "kommun", se(2026, 11, 30, 12, 0))
    assert [kind for _, kind, _, _ in plan(admitted, se(2026, 11, 30, 12, 0))] == ["before", "due", "overdue"]


# --- quiet hours -------------------------------------------------------------------------


def test_quiet_hours_move_a_late_evening_due_reminder_to_eight_the_next_working_day(case: CaseView) -> None:
    case.dates["admission"] = se(2026, 12, 3, 21, 30)  # Thursday: due Friday 4 December at 21:30
    wanted = {w.kind: w for w in desired_reminders(case, policy_for(None), se(2026, 12, 3, 21, 30), set())}
    assert wall(wanted["due"].planned_at) == (2026, 12, 7, 8, 0)  # after the weekend
    assert wanted["due"].due == se(2026, 12, 4, 21, 30)  # the due time itself does not move


def test_quiet_hours_move_a_late_evening_reminder_to_eight_the_next_morning_on_weekdays(admitted: CaseView) -> None:
    admitted.dates["admission"] = se(2026, 11, 30, 21, 30)  # due Tuesday 21:30
    assert plan(admitted, se(2026, 11, 30, 21, 0)) == [
        (NOTICE, "before", 0, (2026, 12, 1, 8, 0)),  # Mon 21:30 → Tue 08:00
        (NOTICE, "due", 0, (2026, 12, 2, 8, 0)),  # Tue 21:30 → Wed 08:00
        (NOTICE, "overdue", 1, (2026, 12, 3, 8, 0)),  # Wed 21:30 → Thu 08:00
    ]


def test_quiet_hours_off_keeps_a_late_evening_due_reminder_at_its_time(case: CaseView) -> None:
    case.dates["admission"] = se(2026, 12, 3, 21, 30)
    wanted = {w.kind: w for w in desired_reminders(case, policy_for("off"), se(2026, 12, 3, 21, 30), set())}
    assert wall(wanted["due"].planned_at) == (2026, 12, 4, 21, 30)


def test_a_rooms_own_quiet_hours_are_used_for_planning(admitted: CaseView) -> None:
    admitted.dates["admission"] = se(2026, 11, 30, 21, 30)
    wanted = {w.kind: w for w in desired_reminders(admitted, policy_for("22:00-07:00"), se(2026, 11, 30, 21, 0), set())}
    assert wall(wanted["due"].planned_at) == (2026, 12, 1, 21, 30)  # 21:30 is before 22:00


def test_default_quiet_hours_are_eight_in_the_evening_to_eight_in_the_morning_and_days_off() -> None:
    assert quiet_hours(None) == QuietHours(start=time(20, 0), end=time(8, 0), weekends=True)


def test_an_empty_quiet_setting_means_the_default() -> None:
    assert quiet_hours("") == QuietHours()


def test_a_quiet_setting_is_read_as_start_and_end() -> None:
    assert quiet_hours("22:00-07:00") == QuietHours(start=time(22, 0), end=time(7, 0), weekends=True)


def test_quiet_setting_off_is_never_quiet() -> None:
    assert quiet_hours("off").is_off


def test_a_malformed_quiet_setting_is_refused() -> None:
    with pytest.raises(ValueError):
        quiet_hours("late")


# --- who is reminded ---------------------------------------------------------------------


def test_an_unsent_notice_is_for_its_sender_lane(case: CaseView) -> None:
    assert audience_lanes(case, item(case)) == ["slutenvard"]


def test_a_sent_notice_is_for_the_lanes_that_have_not_acknowledged(case: CaseView) -> None:
    send(case, NOTICE, se(2026, 11, 30, 11, 0))
    assert audience_lanes(case, item(case)) == ["kommun", "oppenvard"]
    ack(case, NOTICE, "kommun", se(2026, 11, 30, 12, 0))
    assert audience_lanes(case, item(case)) == ["oppenvard"]


def test_a_task_is_for_its_owner_lane(case: CaseView) -> None:
    assert audience_lanes(case, item(case, "kontaktperson-kommun")) == ["kommun"]


def test_an_unassigned_item_reminds_every_member_of_its_lane(case: CaseView) -> None:
    assert recipients(case, item(case), "due") == [SARA, SIV]


def test_an_assigned_item_reminds_only_the_assigned_person(case: CaseView) -> None:
    assign(case, NOTICE, SIV)
    assert recipients(case, item(case), "due") == [SIV]
    assert recipients(case, item(case), "before") == [SIV]


def test_an_item_assigned_to_someone_who_left_reminds_the_lane(case: CaseView) -> None:
    assign(case, NOTICE, "@gone:example.org")
    assert recipients(case, item(case), "due") == [SARA, SIV]


def test_a_sent_notice_reminds_the_members_of_the_lanes_still_missing(case: CaseView) -> None:
    send(case, NOTICE, se(2026, 11, 30, 11, 0))
    assert recipients(case, item(case), "due") == [KARL, OLLE]
    ack(case, NOTICE, "kommun", se(2026, 11, 30, 12, 0))
    assert recipients(case, item(case), "due") == [OLLE]


def test_early_and_due_reminders_do_not_mention_the_coordinators(case: CaseView) -> None:
    assert CORA not in recipients(case, item(case), "before")
    assert CORA not in recipients(case, item(case), "due")


def test_an_overdue_reminder_adds_the_coordinators(case: CaseView) -> None:
    assert recipients(case, item(case), "overdue") == [CORA, SARA, SIV]


def test_an_overdue_reminder_of_an_assigned_item_adds_the_coordinators(case: CaseView) -> None:
    assign(case, NOTICE, SIV)
    assert recipients(case, item(case), "overdue") == [CORA, SIV]


def test_a_coordinator_in_the_lane_is_mentioned_once(case: CaseView) -> None:
    case.members[CURT] = Membership(CURT, "slutenvard", coordinator=True)
    assert recipients(case, item(case), "overdue") == [CORA, CURT, SARA, SIV]


def test_a_lane_without_members_gives_no_one_before_the_item_is_overdue(case: CaseView) -> None:
    del case.members[KARL]
    assert recipients(case, item(case, "kontaktperson-kommun"), "due") == []
    assert recipients(case, item(case, "kontaktperson-kommun"), "overdue") == [CORA]


# --- what they are told to do ------------------------------------------------------------


def test_an_unsent_notice_says_to_send_it(case: CaseView) -> None:
    assert how_to(case, item(case)) == ("reminder.how_send", f"!send {NOTICE}")


def test_a_sent_notice_says_to_acknowledge_it(case: CaseView) -> None:
    send(case, NOTICE, se(2026, 11, 30, 11, 0))
    assert how_to(case, item(case)) == ("reminder.how_ack", f"!ack {NOTICE}")


def test_a_task_says_to_acknowledge_it(case: CaseView) -> None:
    assert how_to(case, item(case, "kontaktperson-kommun")) == ("reminder.how_ack", "!ack kontaktperson-kommun")
