"""Specification of the coordinator's desk (care/caseload.py, care/worklist.py, care/retention.py): what
each case's line says, which come first, what the morning worklist holds, when it is scheduled and whether it still goes
out, and when a closed case's retention run is due. Pure: views built by hand as the store
loads them, on the real pathway files.

Running examples: the Örebro case whose Inskrivningsmeddelande is due Tuesday 1 December
2026 at 10:00 (24 hours after an admission on Monday 30 November 10:00), and the Telemark
case of a coordinator in Oslo.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from homeward.care.case import Ack, CaseView, ItemRecord, Membership, close_blockers
from homeward.care.caseload import coordinator_calendar, select, summarize, urgency
from homeward.care.consent import Answer
from homeward.care.pathway import Pathway
from homeward.care.reminders import ScheduledReminder, firing, reconcile
from homeward.care.retention import retention_due, retention_firing
from homeward.care.worklist import (
    ScheduledDigest,
    digest_firing,
    next_digest_at,
    parse_digest_time,
    schedule_digest,
    worklist,
)
from homeward.messages.caseload import CaseloadSpeaker, worklist_markdown
from homeward.messages.catalog import Catalog

OSLO = ZoneInfo("Europe/Oslo")
UTC = UTC
ZONE = "Europe/Oslo"
ANNA = "@anna:example.org"  # coordinator, no lane
SARA = "@sara:example.org"  # slutenvård
KARL = "@karl:example.org"  # kommun
MOR = "@mor:example.org"  # vårdnadshavare
NOTICE = "inskrivningsmeddelande"


def oslo(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=OSLO)


def orebro(pathways: dict[str, Pathway], **changes) -> CaseView:
    members = {
        ANNA: Membership(ANNA, None, True),
        SARA: Membership(SARA, "slutenvard", False),
        KARL: Membership(KARL, "kommun", False),
    }
    view = CaseView(
        pathway=pathways["orebro"],
        label="Ekorre",
        phase_id="identifiering",
        dates={"admission": oslo(2026, 11, 30, 10, 0)},
        members=members,
        records={},
    )
    for key, value in changes.items():
        setattr(view, key, value)
    return view


def line(
    view: CaseView,
    now: datetime,
    *,
    member: bool = True,
    answers: list[Answer] | None = None,
    last: datetime | None = None,
    case_id: int = 1,
):
    return summarize(
        view,
        case_id=case_id,
        room_id=f"!r{case_id}:x",
        answers=answers or [],
        last_activity=last,
        member=member,
        now=now,
        zone=ZONE,
    )


# -- a case's line -----------------------------------------------------------------------------


def test_the_next_deadline_is_the_earliest_open_item_still_ahead_with_the_lane_that_must_act(pathways):
    summary = line(orebro(pathways), oslo(2026, 12, 1, 9, 0))

    assert summary.next_due is not None
    assert (summary.next_due.item, summary.next_due.at, summary.next_due.lanes) == (
        NOTICE,
        oslo(2026, 12, 1, 10, 0),
        ("slutenvard",),
    )
    assert summary.next_due.command == f"!send {NOTICE}"  # not sent yet: sending moves it on
    assert summary.overdue == ()


def test_an_item_past_its_due_time_counts_as_overdue_not_as_next(pathways):
    summary = line(orebro(pathways), oslo(2026, 12, 1, 10, 1))

    assert [d.item for d in summary.overdue] == [NOTICE]
    assert summary.next_due is None or summary.next_due.item != NOTICE
    assert summary.as_json()["overdue"] == 1


def test_a_sent_notice_waits_for_a_receipt_from_each_lane_that_has_not_acknowledged(pathways):
    records = {
        NOTICE: ItemRecord(
            sent_at=oslo(2026, 11, 30, 12, 0), sent_by=SARA, acks=[Ack("kommun", KARL, oslo(2026, 11, 30, 13, 0))]
        )
    }
    summary = line(orebro(pathways, records=records), oslo(2026, 12, 1, 9, 0))

    assert summary.as_json()["awaiting"] == [{"item": NOTICE, "lane": "oppenvard"}]
    assert summary.next_due is not None and summary.next_due.command == f"!ack {NOTICE}"


def test_consents_are_pending_only_when_someone_is_there_to_answer_them(pathways):
    nobody = line(orebro(pathways), oslo(2026, 12, 1, 9, 0))
    members = {**orebro(pathways).members, MOR: Membership(MOR, "vardnadshavare", False)}
    asked = line(
        orebro(pathways, members=members),
        oslo(2026, 12, 1, 9, 0),
        answers=[Answer("npo", MOR, "yes", oslo(2026, 11, 30, 14, 0))],
    )

    assert nobody.consents_pending == ()
    assert asked.consents_pending == ("informationsoverforing",)  # the SIP consent is covered by the admission consent


def test_a_closed_case_has_no_deadlines_and_a_case_off_the_team_shows_no_details(pathways):
    closed = line(
        orebro(pathways, state="closed", closed_at=oslo(2026, 12, 1, 8, 0), closed_reason="moved"),
        oslo(2026, 12, 1, 11, 0),
    )
    stranger = line(orebro(pathways), oslo(2026, 12, 1, 11, 0), member=False)

    assert (closed.state, closed.due, closed.overdue, closed.next_due) == ("closed", (), (), None)
    assert closed.as_json()["closed_at"] == oslo(2026, 12, 1, 8, 0).isoformat()
    assert (stranger.due, stranger.awaiting, stranger.consents_pending) == ((), (), ())


def test_quiet_working_days_skip_weekends_and_holidays(pathways):
    # Last activity on Wednesday 23 December; Thursday 24 (Julafton), Friday 25 and Saturday 26 are days off in Sweden.
    summary = line(orebro(pathways), oslo(2026, 12, 30, 9, 0), last=oslo(2026, 12, 23, 15, 0))

    assert summary.quiet_working_days == 2  # Monday 28 and Tuesday 29


def test_the_most_urgent_come_first_overdue_or_without_coordinator_then_by_deadline_and_closed_last(pathways):
    now = oslo(2026, 12, 1, 11, 0)
    overdue = line(orebro(pathways), now, case_id=1)
    later = line(orebro(pathways, dates={"admission": oslo(2026, 12, 1, 10, 0)}), now, case_id=2)
    orphan_members = {SARA: Membership(SARA, "slutenvard", False)}
    orphan = line(orebro(pathways, members=orphan_members, dates={}), now, case_id=3)
    closed = line(orebro(pathways, state="closed"), now, case_id=4)
    nothing = line(orebro(pathways, dates={}), now, case_id=5)

    ordered = sorted([closed, nothing, later, orphan, overdue], key=urgency)

    assert [s.case_id for s in ordered] == [1, 3, 2, 5, 4]
    assert orphan.no_coordinator and not overdue.no_coordinator
    assert [s.case_id for s in select(ordered, "open")] == [1, 3, 2, 5]
    assert [s.case_id for s in select(ordered, "overdue")] == [1]
    assert [s.case_id for s in select(ordered, "all")][-1] == 4


# -- the morning worklist ------------------------------------------------------------------------


def test_the_worklist_holds_what_is_due_today_overdue_awaited_and_pending_for_the_cases_one_coordinates(pathways):
    now = oslo(2026, 12, 1, 7, 30)
    mine = line(orebro(pathways), now, case_id=1)
    members = {SARA: Membership(SARA, "slutenvard", False), KARL: Membership(KARL, "kommun", True)}
    someone_elses = line(orebro(pathways, members=members), now, case_id=2)

    found = worklist([mine, someone_elses], now, ZONE, 7, ANNA)

    assert [(s.case_id, d.item) for s, d in found.due_today] == [(1, NOTICE)]
    assert found.overdue == [] and found.quiet == []
    assert [s.case_id for s in found.cases] == [1]


def test_a_case_without_a_coordinator_is_on_the_worklist_as_such_and_quiet_cases_too(pathways):
    now = oslo(2026, 12, 10, 7, 30)
    orphan = line(orebro(pathways, members={SARA: Membership(SARA, "slutenvard", False)}), now, case_id=1, member=False)
    quiet = line(orebro(pathways, dates={}), now, case_id=2, last=oslo(2026, 11, 30, 9, 0))

    found = worklist([orphan, quiet], now, ZONE, 7, ANNA)

    assert [s.case_id for s in found.no_coordinator] == [1]
    assert [s.case_id for s in found.quiet] == [2]  # 1–9 December: seven working days without activity


def test_the_worklist_text_heads_the_quiet_cases_with_the_number_of_working_days(pathways):
    now = oslo(2026, 12, 10, 7, 30)
    quiet = line(orebro(pathways, dates={}), now, case_id=2, last=oslo(2026, 11, 30, 9, 0))
    found = worklist([quiet], now, ZONE, 7, ANNA)
    speaker = CaseloadSpeaker(Catalog(), "en", OSLO, now, pathways, "example.org")

    text = worklist_markdown(speaker, found)

    assert "**No activity for 7 working days or more**" in text
    assert "last activity 2026-11-30 09:00" in text


def test_nothing_to_say_is_an_empty_worklist(pathways):
    now = oslo(2026, 12, 1, 7, 30)
    assert not worklist([line(orebro(pathways, dates={}), now)], now, ZONE, 7, ANNA)


def test_a_case_is_left_off_the_worklist_on_a_day_off_of_its_own_country(pathways):
    now = oslo(2027, 6, 4, 7, 30)  # Friday 4 June 2027 is a working day in Norway and Sweden…
    assert worklist([line(orebro(pathways, dates={"admission": oslo(2027, 6, 3, 10, 0)}), now)], now, ZONE, 7, ANNA)
    holiday = oslo(2027, 5, 6, 7, 30)  # …Ascension Day, 6 May 2027, is a day off in both
    assert not worklist(
        [line(orebro(pathways, dates={"admission": oslo(2027, 5, 5, 10, 0)}), holiday)], holiday, ZONE, 7, ANNA
    )


# -- when the worklist goes out ----------------------------------------------------------------


def norway() -> list:
    return [coordinator_calendar("NO", ZONE, "nb")]


def row(n: int, day: date, at: datetime, status: str = "planned") -> ScheduledDigest:
    return ScheduledDigest(n, ANNA, day, at.astimezone(UTC), at.astimezone(UTC), status)


def test_the_next_worklist_is_the_next_working_day_at_its_time():
    assert next_digest_at(time(7, 30), norway(), oslo(2026, 12, 31, 7, 0), set()) == (
        date(2026, 12, 31),
        oslo(2026, 12, 31, 7, 30),
    )
    # after Thursday's time: not New Year's Day, not the weekend, but Monday
    assert next_digest_at(time(7, 30), norway(), oslo(2026, 12, 31, 8, 0), set()) == (
        date(2027, 1, 4),
        oslo(2027, 1, 4, 7, 30),
    )


def test_a_day_whose_worklist_went_out_is_never_planned_again_even_at_a_later_time():
    sent = row(1, date(2026, 12, 1), oslo(2026, 12, 1, 7, 30), "sent")
    changes = schedule_digest(time(9, 0), norway(), [sent], oslo(2026, 12, 1, 8, 0))

    assert changes.add == (date(2026, 12, 2), oslo(2026, 12, 2, 9, 0))


def test_a_new_time_replaces_the_planned_row_and_off_cancels_it():
    planned = row(7, date(2026, 12, 2), oslo(2026, 12, 2, 7, 30))
    moved = schedule_digest(time(8, 15), norway(), [planned], oslo(2026, 12, 1, 12, 0))
    off = schedule_digest(None, norway(), [planned], oslo(2026, 12, 1, 12, 0))
    no_cases = schedule_digest(time(7, 30), [], [planned], oslo(2026, 12, 1, 12, 0))
    same = schedule_digest(time(7, 30), norway(), [planned], oslo(2026, 12, 1, 12, 0))

    assert (moved.cancel, moved.add) == ([7], (date(2026, 12, 2), oslo(2026, 12, 2, 8, 15)))
    assert (off.cancel, off.add) == ([7], None)
    assert (no_cases.cancel, no_cases.add) == ([7], None)
    assert not same


def test_a_missed_worklist_of_today_stays_to_go_out_late():
    missed = row(3, date(2026, 12, 1), oslo(2026, 12, 1, 7, 30))
    changes = schedule_digest(time(7, 30), norway(), [missed], oslo(2026, 12, 1, 7, 33))

    assert 3 not in changes.cancel
    assert changes.add == (date(2026, 12, 2), oslo(2026, 12, 2, 7, 30))


def test_one_missed_on_an_earlier_day_gives_way_to_todays_sent_at_once_before_the_evening():
    stale = row(4, date(2026, 12, 1), oslo(2026, 12, 1, 7, 30))
    morning = schedule_digest(time(7, 30), norway(), [stale], oslo(2026, 12, 2, 9, 0))
    evening = schedule_digest(time(7, 30), norway(), [stale], oslo(2026, 12, 2, 20, 30))

    assert (morning.cancel, morning.add) == ([4], (date(2026, 12, 2), oslo(2026, 12, 2, 7, 30)))
    assert (evening.cancel, evening.add) == ([4], (date(2026, 12, 3), oslo(2026, 12, 3, 7, 30)))


def test_a_worklist_goes_out_on_its_own_day_before_the_evening_or_is_dropped():
    planned = row(5, date(2026, 12, 1), oslo(2026, 12, 1, 7, 30))

    assert digest_firing(planned, oslo(2026, 12, 1, 11, 0), ZONE) == "fire"
    assert digest_firing(planned, oslo(2026, 12, 1, 20, 0), ZONE) == "drop"
    assert digest_firing(planned, oslo(2026, 12, 2, 7, 31), ZONE) == "drop"


@pytest.mark.parametrize(
    ("text", "expected"), [("07:30", time(7, 30)), ("7:30", time(7, 30)), ("19:59", time(19, 59)), ("OFF", None)]
)
def test_a_worklist_time_is_hh_mm_before_the_evening_or_off(text: str, expected: time | None):
    assert parse_digest_time(text) == expected


@pytest.mark.parametrize("text", ["20:00", "23:15", "7:5", "24:00", "seven", "", "07:30:00"])
def test_other_worklist_times_are_refused(text: str):
    with pytest.raises(ValueError):
        parse_digest_time(text)


# -- a case's end --------------------------------------------------------------------------------


def test_a_closed_case_wants_no_reminder_and_one_coming_due_is_dropped(pathways):
    view = orebro(pathways, state="closed", closed_at=oslo(2026, 12, 1, 8, 0))
    planned = ScheduledReminder(
        9, 1, NOTICE, "due", 0, oslo(2026, 12, 1, 10, 0), oslo(2026, 12, 1, 10, 0), oslo(2026, 12, 1, 10, 0), "planned"
    )
    custom = ScheduledReminder(
        10, 1, NOTICE, "custom", 1, None, oslo(2026, 12, 1, 9, 0), oslo(2026, 12, 1, 9, 0), "planned"
    )

    changes = reconcile(view, [planned, custom], None, oslo(2026, 12, 1, 9, 30))

    assert sorted(changes.cancel) == [9, 10] and not changes.add and not changes.move
    assert firing(view, view.item(NOTICE), None, {}, oslo(2026, 12, 1, 10, 0)).action == "cancel"


def test_closing_is_held_by_the_mandatory_items_of_every_phase(pathways):
    blockers = {item.id for item in close_blockers(orebro(pathways))}
    assert {NOTICE, "kallelse-sip", "uppfoljning-sip"} <= blockers


def test_retention_is_due_its_days_after_closing_and_never_while_open_or_unset(pathways):
    closed = orebro(pathways, state="closed", closed_at=oslo(2026, 12, 1, 8, 0))

    assert retention_due(closed, 30) == oslo(2026, 12, 31, 8, 0)
    assert retention_due(closed, None) is None
    assert retention_due(orebro(pathways), 30) is None


def test_a_retention_run_waits_for_its_time_and_the_room_s_quiet_hours_and_is_dropped_for_a_reopened_case(pathways):
    closed = orebro(pathways, state="closed", closed_at=oslo(2026, 11, 30, 8, 0))

    assert retention_firing(closed, 30, None, oslo(2026, 12, 30, 9, 0)).action == "run"
    assert retention_firing(closed, 60, None, oslo(2026, 12, 30, 9, 0)).until == oslo(2027, 1, 29, 8, 0)
    night = retention_firing(closed, 30, None, oslo(2026, 12, 30, 22, 0))
    # Nyårsafton and New Year's Day are days off in Sweden, then the weekend: Monday morning.
    assert night.action == "postpone" and night.until == oslo(2027, 1, 4, 8, 0)
    assert retention_firing(orebro(pathways), 30, None, oslo(2026, 12, 30, 9, 0)).action == "cancel"
