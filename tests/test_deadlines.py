"""Specification of due rules, reminder schedules and typed times (care/deadlines.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from homeward.care.calendar import QuietHours, WorkingCalendar
from homeward.care.deadlines import (
    END_OF_WORKING_DAY,
    Reminder,
    ReminderPolicy,
    WorkingDays,
    parse_duration,
    parse_when,
    reminder_schedule,
    resolve_due,
)

OSLO = ZoneInfo("Europe/Oslo")
STOCKHOLM = ZoneInfo("Europe/Stockholm")
UTC = UTC


@pytest.fixture(scope="module")
def norway() -> WorkingCalendar:
    return WorkingCalendar("NO", "Europe/Oslo")


@pytest.fixture(scope="module")
def sweden() -> WorkingCalendar:
    return WorkingCalendar("SE", "Europe/Stockholm")


def oslo(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=OSLO)


def local(moment: datetime, zone: ZoneInfo = OSLO) -> tuple[int, ...]:
    """Wall-clock (y, m, d, H, M) of an instant, to compare readably."""
    wall = moment.astimezone(zone)
    return (wall.year, wall.month, wall.day, wall.hour, wall.minute)


def planned(schedule: list[Reminder]) -> list[tuple[str, int, tuple[int, ...]]]:
    return [(r.kind, r.sequence, local(r.planned_at)) for r in schedule]


# --- resolve_due: hours -------------------------------------------------------------


def test_due_is_returned_in_utc(norway: WorkingCalendar) -> None:
    due = resolve_due(oslo(2026, 6, 9, 12, 0), 2, "hours", "after", None, norway)
    assert due.tzinfo == UTC
    assert due == datetime(2026, 6, 9, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("zone", [OSLO, STOCKHOLM])
def test_24_hours_across_spring_forward_is_25_hours_on_the_wall_clock(zone: ZoneInfo) -> None:
    calendar = WorkingCalendar("NO", zone.key)
    anchor = datetime(2026, 3, 28, 12, 0, tzinfo=zone)
    due = resolve_due(anchor, 24, "hours", "after", None, calendar)
    assert due - anchor == timedelta(hours=24)
    assert local(due, zone) == (2026, 3, 29, 13, 0)


@pytest.mark.parametrize("zone", [OSLO, STOCKHOLM])
def test_24_hours_across_fall_back_is_23_hours_on_the_wall_clock(zone: ZoneInfo) -> None:
    calendar = WorkingCalendar("SE", zone.key)
    anchor = datetime(2026, 10, 24, 12, 0, tzinfo=zone)
    due = resolve_due(anchor, 24, "hours", "after", None, calendar)
    assert due - anchor == timedelta(hours=24)
    assert local(due, zone) == (2026, 10, 25, 11, 0)


def test_hours_before_count_back_in_elapsed_time(norway: WorkingCalendar) -> None:
    due = resolve_due(oslo(2026, 3, 29, 12, 0), 24, "hours", "before", None, norway)
    assert local(due) == (2026, 3, 28, 11, 0)


def test_hours_with_a_time_of_day_are_refused(norway: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="hours"):
        resolve_due(oslo(2026, 6, 9, 12, 0), 2, "hours", "after", time(9, 0), norway)


# --- resolve_due: calendar days -----------------------------------------------------


@pytest.mark.parametrize("zone", [OSLO, STOCKHOLM])
def test_one_day_after_noon_across_spring_forward_stays_noon(zone: ZoneInfo) -> None:
    calendar = WorkingCalendar("SE", zone.key)
    anchor = datetime(2026, 3, 28, 12, 0, tzinfo=zone)
    due = resolve_due(anchor, 1, "days", "after", None, calendar)
    assert local(due, zone) == (2026, 3, 29, 12, 0)
    assert due - anchor == timedelta(hours=23)


@pytest.mark.parametrize("zone", [OSLO, STOCKHOLM])
def test_one_day_after_noon_across_fall_back_stays_noon(zone: ZoneInfo) -> None:
    calendar = WorkingCalendar("NO", zone.key)
    anchor = datetime(2026, 10, 24, 12, 0, tzinfo=zone)
    due = resolve_due(anchor, 1, "days", "after", None, calendar)
    assert local(due, zone) == (2026, 10, 25, 12, 0)
    assert due - anchor == timedelta(hours=25)


def test_within_three_days_is_three_days_after(norway: WorkingCalendar) -> None:
    due = resolve_due(oslo(2026, 6, 9, 14, 15), 3, "days", "after", None, norway)
    assert local(due) == (2026, 6, 12, 14, 15)


def test_days_do_not_skip_weekends(norway: WorkingCalendar) -> None:
    due = resolve_due(oslo(2026, 6, 12, 10, 0), 1, "days", "after", None, norway)
    assert local(due) == (2026, 6, 13, 10, 0)


def test_days_before_with_a_time_of_day(norway: WorkingCalendar) -> None:
    due = resolve_due(oslo(2026, 6, 12, 15, 0), 2, "days", "before", time(9, 0), norway)
    assert local(due) == (2026, 6, 10, 9, 0)


def test_the_anchor_is_read_in_the_calendars_local_time(norway: WorkingCalendar) -> None:
    # 23:30 UTC on 9 June is already 10 June 01:30 in Oslo.
    anchor = datetime(2026, 6, 9, 23, 30, tzinfo=UTC)
    due = resolve_due(anchor, 1, "days", "after", None, norway)
    assert local(due) == (2026, 6, 11, 1, 30)


def test_a_date_anchor_without_time_is_due_at_end_of_working_day(
    norway: WorkingCalendar,
) -> None:
    assert time(16, 0) == END_OF_WORKING_DAY
    due = resolve_due(date(2026, 6, 9), 2, "days", "after", None, norway)
    assert local(due) == (2026, 6, 11, 16, 0)


def test_a_date_anchor_with_at_uses_at(norway: WorkingCalendar) -> None:
    due = resolve_due(date(2026, 6, 9), 0, "days", "after", time(10, 0), norway)
    assert local(due) == (2026, 6, 9, 10, 0)


def test_a_nonexistent_local_due_time_moves_to_the_jump(norway: WorkingCalendar) -> None:
    due = resolve_due(oslo(2026, 3, 28, 2, 30), 1, "days", "after", None, norway)
    assert local(due) == (2026, 3, 29, 3, 0)


# --- resolve_due: working days ------------------------------------------------------


def test_working_days_skip_the_weekend(norway: WorkingCalendar) -> None:
    due = resolve_due(oslo(2026, 6, 12, 10, 0), 1, "working_days", "after", None, norway)
    assert local(due) == (2026, 6, 15, 10, 0)


def test_working_days_skip_norwegian_easter(norway: WorkingCalendar) -> None:
    due = resolve_due(oslo(2026, 4, 1, 10, 0), 1, "working_days", "after", None, norway)
    assert local(due) == (2026, 4, 7, 10, 0)


def test_working_days_in_sweden_count_maundy_thursday(sweden: WorkingCalendar) -> None:
    anchor = datetime(2026, 4, 1, 10, 0, tzinfo=STOCKHOLM)
    due = resolve_due(anchor, 2, "working_days", "after", None, sweden)
    assert local(due, STOCKHOLM) == (2026, 4, 7, 10, 0)


def test_working_days_before_a_monday_land_on_friday(norway: WorkingCalendar) -> None:
    due = resolve_due(oslo(2026, 6, 15, 10, 0), 1, "working_days", "before", None, norway)
    assert local(due) == (2026, 6, 12, 10, 0)


def test_two_working_days_before_discharge_after_17_may(norway: WorkingCalendar) -> None:
    discharge = oslo(2028, 5, 18, 11, 0)  # Thursday after Constitution Day
    due = resolve_due(discharge, 2, "working_days", "before", time(12, 0), norway)
    assert local(due) == (2028, 5, 15, 12, 0)


def test_zero_working_days_after_a_day_off_is_the_next_working_day(
    norway: WorkingCalendar,
) -> None:
    due = resolve_due(oslo(2026, 6, 13, 10, 0), 0, "working_days", "after", None, norway)
    assert local(due) == (2026, 6, 15, 10, 0)


def test_zero_working_days_before_a_day_off_is_the_last_working_day(
    norway: WorkingCalendar,
) -> None:
    due = resolve_due(oslo(2026, 6, 14, 10, 0), 0, "working_days", "before", None, norway)
    assert local(due) == (2026, 6, 12, 10, 0)


@pytest.mark.parametrize(
    ("offset", "unit", "direction"),
    [(1, "weeks", "after"), (1, "days", "around"), (-1, "days", "after")],
)
def test_bad_rules_are_refused(norway: WorkingCalendar, offset: int, unit: str, direction: str) -> None:
    with pytest.raises(ValueError):
        resolve_due(oslo(2026, 6, 9, 12, 0), offset, unit, direction, None, norway)


def test_a_naive_anchor_is_refused(norway: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="aware"):
        resolve_due(datetime(2026, 6, 9, 12, 0), 1, "days", "after", None, norway)


# --- reminder_schedule --------------------------------------------------------------


def test_an_item_due_monday_10_is_announced_the_friday_before_at_10(
    norway: WorkingCalendar,
) -> None:
    schedule = reminder_schedule(oslo(2026, 6, 8, 10, 0), ReminderPolicy(), norway, until=oslo(2026, 6, 10, 12, 0))
    assert planned(schedule) == [
        ("before", 0, (2026, 6, 5, 10, 0)),
        ("due", 0, (2026, 6, 8, 10, 0)),
        ("overdue", 1, (2026, 6, 9, 10, 0)),
        ("overdue", 2, (2026, 6, 10, 10, 0)),
    ]


def test_reminder_times_are_utc(norway: WorkingCalendar) -> None:
    schedule = reminder_schedule(oslo(2026, 6, 8, 10, 0), ReminderPolicy(), norway, until=oslo(2026, 6, 10, 12, 0))
    assert all(r.planned_at.tzinfo == UTC for r in schedule)


def test_an_item_due_at_21_is_reminded_at_08_next_working_day(norway: WorkingCalendar) -> None:
    schedule = reminder_schedule(oslo(2026, 6, 9, 21, 0), ReminderPolicy(), norway, until=oslo(2026, 6, 10, 12, 0))
    assert planned(schedule) == [
        ("before", 0, (2026, 6, 9, 8, 0)),  # Monday 21:00, shifted
        ("due", 0, (2026, 6, 10, 8, 0)),
    ]


def test_an_item_due_friday_at_21_is_reminded_monday_at_08(norway: WorkingCalendar) -> None:
    schedule = reminder_schedule(oslo(2026, 6, 12, 21, 0), ReminderPolicy(), norway, until=oslo(2026, 6, 15, 12, 0))
    assert [r for r in schedule if r.kind == "due"] == [Reminder("due", oslo(2026, 6, 15, 8, 0).astimezone(UTC))]


def test_overdue_repeats_skip_norwegian_easter(norway: WorkingCalendar) -> None:
    schedule = reminder_schedule(oslo(2026, 4, 1, 10, 0), ReminderPolicy(), norway, until=oslo(2026, 4, 8, 23, 0))
    assert [local(r.planned_at) for r in schedule if r.kind == "overdue"] == [
        (2026, 4, 7, 10, 0),
        (2026, 4, 8, 10, 0),
    ]


def test_overdue_repeats_skip_a_weekday_holiday(norway: WorkingCalendar) -> None:
    schedule = reminder_schedule(oslo(2028, 5, 16, 10, 0), ReminderPolicy(), norway, until=oslo(2028, 5, 19, 12, 0))
    assert [(r.sequence, local(r.planned_at)) for r in schedule if r.kind == "overdue"] == [
        (1, (2028, 5, 18, 10, 0)),
        (2, (2028, 5, 19, 10, 0)),
    ]


def test_overdue_repeats_in_sweden_fall_on_maundy_thursday(sweden: WorkingCalendar) -> None:
    due = datetime(2026, 4, 1, 10, 0, tzinfo=STOCKHOLM)
    schedule = reminder_schedule(due, ReminderPolicy(), sweden, until=due + timedelta(days=7))
    assert [local(r.planned_at, STOCKHOLM) for r in schedule if r.kind == "overdue"] == [
        (2026, 4, 2, 10, 0),
        (2026, 4, 7, 10, 0),
        (2026, 4, 8, 10, 0),
    ]


def test_overdue_repeats_every_second_working_day(norway: WorkingCalendar) -> None:
    policy = ReminderPolicy(overdue_every_working_days=2)
    schedule = reminder_schedule(oslo(2026, 6, 8, 10, 0), policy, norway, until=oslo(2026, 6, 15, 12, 0))
    assert [local(r.planned_at) for r in schedule if r.kind == "overdue"] == [
        (2026, 6, 10, 10, 0),
        (2026, 6, 12, 10, 0),
    ]


def test_until_limits_only_the_overdue_repeats(norway: WorkingCalendar) -> None:
    schedule = reminder_schedule(oslo(2026, 6, 8, 10, 0), ReminderPolicy(), norway, until=oslo(2026, 6, 1, 0, 0))
    assert [r.kind for r in schedule] == ["before", "due"]


def test_until_is_inclusive(norway: WorkingCalendar) -> None:
    schedule = reminder_schedule(oslo(2026, 6, 8, 10, 0), ReminderPolicy(), norway, until=oslo(2026, 6, 9, 10, 0))
    assert [r.kind for r in schedule] == ["before", "due", "overdue"]


def test_before_and_due_shifted_to_the_same_instant_keep_only_due(
    norway: WorkingCalendar,
) -> None:
    policy = ReminderPolicy(before=timedelta(hours=1))
    schedule = reminder_schedule(oslo(2026, 6, 8, 7, 0), policy, norway, until=oslo(2026, 6, 8, 12, 0))
    assert planned(schedule) == [("due", 0, (2026, 6, 8, 8, 0))]


def test_due_and_first_overdue_on_the_same_instant_keep_overdue(
    norway: WorkingCalendar,
) -> None:
    # Due Sunday 07:00: the due reminder and the first repeat (Monday 07:00) both
    # wait for Monday 08:00.
    policy = ReminderPolicy(before=None)
    schedule = reminder_schedule(oslo(2026, 6, 14, 7, 0), policy, norway, until=oslo(2026, 6, 15, 12, 0))
    assert planned(schedule) == [("overdue", 1, (2026, 6, 15, 8, 0))]


def test_before_can_be_an_exact_duration(norway: WorkingCalendar) -> None:
    policy = ReminderPolicy(before=timedelta(hours=2))
    schedule = reminder_schedule(oslo(2026, 6, 8, 10, 0), policy, norway, until=oslo(2026, 6, 8, 12, 0))
    assert planned(schedule)[0] == ("before", 0, (2026, 6, 8, 8, 0))


def test_before_can_be_several_working_days(norway: WorkingCalendar) -> None:
    policy = ReminderPolicy(before=WorkingDays(2))
    schedule = reminder_schedule(oslo(2026, 4, 7, 10, 0), policy, norway, until=oslo(2026, 4, 7, 12, 0))
    assert planned(schedule)[0] == ("before", 0, (2026, 3, 31, 10, 0))


def test_no_early_reminder_and_no_due_reminder_when_turned_off(norway: WorkingCalendar) -> None:
    policy = ReminderPolicy(before=None, at_due=False)
    schedule = reminder_schedule(oslo(2026, 6, 8, 10, 0), policy, norway, until=oslo(2026, 6, 9, 12, 0))
    assert [r.kind for r in schedule] == ["overdue"]


def test_without_quiet_hours_an_evening_due_stays_in_the_evening(
    norway: WorkingCalendar,
) -> None:
    policy = ReminderPolicy(quiet=QuietHours.off())
    schedule = reminder_schedule(oslo(2026, 6, 13, 21, 0), policy, norway, until=oslo(2026, 6, 15, 22, 0))
    assert planned(schedule) == [
        ("before", 0, (2026, 6, 12, 21, 0)),
        ("due", 0, (2026, 6, 13, 21, 0)),
        ("overdue", 1, (2026, 6, 15, 21, 0)),
    ]


def test_overdue_repeats_keep_the_due_local_time_across_dst(norway: WorkingCalendar) -> None:
    schedule = reminder_schedule(oslo(2026, 10, 23, 10, 0), ReminderPolicy(), norway, until=oslo(2026, 10, 27, 12, 0))
    assert [local(r.planned_at) for r in schedule if r.kind == "overdue"] == [
        (2026, 10, 26, 10, 0),
        (2026, 10, 27, 10, 0),
    ]


def test_policy_refuses_overdue_repeats_less_than_every_working_day() -> None:
    with pytest.raises(ValueError):
        ReminderPolicy(overdue_every_working_days=0)


# --- parse_when ---------------------------------------------------------------------

NOW = oslo(2026, 6, 9, 14, 0)  # a Tuesday afternoon


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("in 2h", (2026, 6, 9, 16, 0)),
        ("in 30m", (2026, 6, 9, 14, 30)),
        ("in 3d", (2026, 6, 12, 14, 0)),
        ("om 2h", (2026, 6, 9, 16, 0)),
        ("tomorrow 09:00", (2026, 6, 10, 9, 0)),
        ("i morgen 09:00", (2026, 6, 10, 9, 0)),
        ("imorgon 09:00", (2026, 6, 10, 9, 0)),
        ("i morgon 9:30", (2026, 6, 10, 9, 30)),
        ("2026-12-01 10:00", (2026, 12, 1, 10, 0)),
        ("2026-12-01", (2026, 12, 1, 9, 0)),
        ("15:00", (2026, 6, 9, 15, 0)),
        ("  In 2H  ", (2026, 6, 9, 16, 0)),
    ],
)
def test_parse_when_accepts(norway: WorkingCalendar, text: str, expected: tuple[int, ...]) -> None:
    assert local(parse_when(text, NOW, norway)) == expected


def test_parse_when_a_passed_time_of_day_means_tomorrow(norway: WorkingCalendar) -> None:
    assert local(parse_when("09:00", NOW, norway)) == (2026, 6, 10, 9, 0)


def test_parse_when_returns_utc(norway: WorkingCalendar) -> None:
    assert parse_when("in 2h", NOW, norway) == datetime(2026, 6, 9, 14, 0, tzinfo=UTC)


def test_parse_when_hours_are_elapsed_time_across_dst(norway: WorkingCalendar) -> None:
    now = oslo(2026, 3, 29, 1, 30)
    assert local(parse_when("in 1h", now, norway)) == (2026, 3, 29, 3, 30)


def test_parse_when_days_keep_the_local_time_across_dst(norway: WorkingCalendar) -> None:
    now = oslo(2026, 3, 28, 12, 0)
    assert local(parse_when("in 3d", now, norway)) == (2026, 3, 31, 12, 0)


@pytest.mark.parametrize("text", ["next week", "in 2 weeks", "soon", "", "tomorrow 25:00"])
def test_parse_when_rejects_other_forms_naming_the_accepted_ones(norway: WorkingCalendar, text: str) -> None:
    with pytest.raises(ValueError, match="in 2h") as error:
        parse_when(text, NOW, norway)
    assert "tomorrow 09:00" in str(error.value)


def test_parse_when_rejects_an_impossible_date(norway: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="not a real date"):
        parse_when("2026-02-30", NOW, norway)


def test_parse_when_rejects_the_past(norway: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="past"):
        parse_when("2026-01-01 10:00", NOW, norway)


def test_parse_when_rejects_zero(norway: WorkingCalendar) -> None:
    with pytest.raises(ValueError):
        parse_when("in 0m", NOW, norway)


# --- parse_duration -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2h", timedelta(hours=2)),
        ("30m", timedelta(minutes=30)),
        ("1d", timedelta(days=1)),
        ("90m", timedelta(minutes=90)),
        ("1h30m", timedelta(minutes=90)),
        (" 2 h ", timedelta(hours=2)),
        ("30d", timedelta(days=30)),
    ],
)
def test_parse_duration_accepts(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "2", "h", "-2h", "2 hours", "soon"])
def test_parse_duration_rejects_other_forms(text: str) -> None:
    with pytest.raises(ValueError, match="30m"):
        parse_duration(text)


def test_parse_duration_must_be_positive() -> None:
    with pytest.raises(ValueError, match="longer than zero"):
        parse_duration("0m")


def test_parse_duration_is_at_most_30_days() -> None:
    with pytest.raises(ValueError, match="30 days"):
        parse_duration("31d")
