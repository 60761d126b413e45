"""Specification of working days, local time and quiet hours (care/calendar.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from homeward.care.calendar import QuietHours, WorkingCalendar, parse_quiet

OSLO = ZoneInfo("Europe/Oslo")


@pytest.fixture(scope="module")
def norway() -> WorkingCalendar:
    return WorkingCalendar("NO", "Europe/Oslo")


@pytest.fixture(scope="module")
def sweden() -> WorkingCalendar:
    return WorkingCalendar("SE", "Europe/Stockholm")


def oslo(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=OSLO)


# --- construction -------------------------------------------------------------------


def test_tz_is_the_calendars_zone(norway: WorkingCalendar) -> None:
    assert norway.tz == OSLO


def test_unknown_country_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="country"):
        WorkingCalendar("XX", "Europe/Oslo")


def test_unknown_time_zone_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="time zone"):
        WorkingCalendar("NO", "Europe/Atlantis")


def test_any_country_the_holidays_package_knows_works() -> None:
    germany = WorkingCalendar("DE", "Europe/Berlin")
    assert germany.holiday_name(date(2026, 10, 3)) == "German Unity Day"
    assert not germany.is_working_day(date(2026, 10, 3))


def test_a_datetime_is_refused_where_a_local_date_is_meant(norway: WorkingCalendar) -> None:
    with pytest.raises(TypeError):
        norway.is_working_day(datetime(2026, 6, 8, 23, 30, tzinfo=UTC))


# --- ordinary days and weekends -----------------------------------------------------


def test_an_ordinary_weekday_is_a_working_day(norway: WorkingCalendar) -> None:
    assert norway.is_working_day(date(2026, 6, 9))
    assert norway.holiday_name(date(2026, 6, 9)) is None


@pytest.mark.parametrize("day", [date(2026, 6, 13), date(2026, 6, 14)])
def test_saturday_and_sunday_are_not_working_days(norway: WorkingCalendar, sweden: WorkingCalendar, day: date) -> None:
    assert not norway.is_working_day(day)
    assert not sweden.is_working_day(day)


def test_an_ordinary_sunday_has_no_holiday_name_in_sweden(sweden: WorkingCalendar) -> None:
    assert sweden.holiday_name(date(2026, 6, 14)) is None


# --- Easter -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2026, 4, 2), "Maundy Thursday"),
        (date(2026, 4, 3), "Good Friday"),
        (date(2026, 4, 6), "Easter Monday"),
    ],
)
def test_norwegian_easter_holidays_include_maundy_thursday(norway: WorkingCalendar, day: date, name: str) -> None:
    assert not norway.is_working_day(day)
    assert norway.holiday_name(day) == name


@pytest.mark.parametrize(
    ("day", "name"),
    [(date(2026, 4, 3), "Good Friday"), (date(2026, 4, 6), "Easter Monday")],
)
def test_swedish_easter_holidays(sweden: WorkingCalendar, day: date, name: str) -> None:
    assert not sweden.is_working_day(day)
    assert sweden.holiday_name(day) == name


def test_maundy_thursday_is_a_working_day_in_sweden(sweden: WorkingCalendar) -> None:
    assert sweden.is_working_day(date(2026, 4, 2))
    assert sweden.holiday_name(date(2026, 4, 2)) is None


# --- national days ------------------------------------------------------------------


def test_17_may_is_constitution_day_in_norway(norway: WorkingCalendar) -> None:
    assert norway.holiday_name(date(2026, 5, 17)) == "Constitution Day"


def test_17_may_on_a_weekday_is_not_a_working_day_in_norway(norway: WorkingCalendar) -> None:
    wednesday = date(2028, 5, 17)
    assert wednesday.weekday() == 2
    assert not norway.is_working_day(wednesday)
    assert norway.holiday_name(wednesday) == "Constitution Day"


def test_17_may_is_an_ordinary_working_day_in_sweden(sweden: WorkingCalendar) -> None:
    assert sweden.is_working_day(date(2028, 5, 17))


def test_epiphany_is_a_holiday_in_sweden_but_not_in_norway(norway: WorkingCalendar, sweden: WorkingCalendar) -> None:
    assert not sweden.is_working_day(date(2026, 1, 6))
    assert norway.is_working_day(date(2026, 1, 6))


# --- midsummer ----------------------------------------------------------------------


def test_midsummer_eve_is_a_de_facto_day_off_in_sweden(sweden: WorkingCalendar) -> None:
    assert not sweden.is_working_day(date(2026, 6, 19))
    assert sweden.holiday_name(date(2026, 6, 19)) == "Midsummer Eve"


def test_midsummer_day_is_a_holiday_in_sweden(sweden: WorkingCalendar) -> None:
    assert sweden.holiday_name(date(2026, 6, 20)) == "Midsummer Day"


def test_the_day_before_midsummer_eve_is_a_working_day_in_sweden(sweden: WorkingCalendar) -> None:
    assert sweden.is_working_day(date(2026, 6, 18))


def test_midsummer_is_not_a_holiday_in_norway(norway: WorkingCalendar) -> None:
    assert norway.is_working_day(date(2026, 6, 19))
    assert norway.is_working_day(date(2026, 6, 23))
    assert norway.is_working_day(date(2026, 6, 24))


# --- Christmas and New Year ---------------------------------------------------------


def test_christmas_eve_is_a_de_facto_day_off_in_sweden(sweden: WorkingCalendar) -> None:
    assert not sweden.is_working_day(date(2026, 12, 24))
    assert sweden.holiday_name(date(2026, 12, 24)) == "Christmas Eve"


def test_christmas_eve_is_a_working_day_in_norway(norway: WorkingCalendar) -> None:
    assert norway.is_working_day(date(2026, 12, 24))
    assert norway.holiday_name(date(2026, 12, 24)) is None


@pytest.mark.parametrize("country", ["NO", "SE"])
def test_christmas_day_and_boxing_day_are_holidays(country: str) -> None:
    calendar = WorkingCalendar(country, "Europe/Oslo")
    assert not calendar.is_working_day(date(2026, 12, 25))
    assert calendar.holiday_name(date(2026, 12, 25)) == "Christmas Day"
    assert calendar.holiday_name(date(2026, 12, 26)) == "Second Day of Christmas"


@pytest.mark.parametrize("country", ["NO", "SE"])
def test_new_years_day_is_a_holiday(country: str) -> None:
    calendar = WorkingCalendar(country, "Europe/Oslo")
    assert not calendar.is_working_day(date(2026, 1, 1))
    assert calendar.holiday_name(date(2026, 1, 1)) == "New Year's Day"


def test_new_years_eve_is_a_de_facto_day_off_in_sweden_only(norway: WorkingCalendar, sweden: WorkingCalendar) -> None:
    assert not sweden.is_working_day(date(2026, 12, 31))
    assert norway.is_working_day(date(2026, 12, 31))


# --- stepping over days -------------------------------------------------------------


def test_next_working_day_skips_the_norwegian_easter(norway: WorkingCalendar) -> None:
    assert norway.next_working_day(date(2026, 4, 1)) == date(2026, 4, 7)


def test_next_working_day_includes_today_only_when_asked(norway: WorkingCalendar) -> None:
    assert norway.next_working_day(date(2026, 6, 9), include_today=True) == date(2026, 6, 9)
    assert norway.next_working_day(date(2026, 6, 9)) == date(2026, 6, 10)
    assert norway.next_working_day(date(2026, 6, 13), include_today=True) == date(2026, 6, 15)


def test_add_working_days_across_a_weekend(norway: WorkingCalendar) -> None:
    friday = date(2026, 6, 12)
    assert norway.add_working_days(friday, 1) == date(2026, 6, 15)
    assert norway.add_working_days(friday, 3) == date(2026, 6, 17)


def test_add_working_days_backwards_across_a_weekend(norway: WorkingCalendar) -> None:
    assert norway.add_working_days(date(2026, 6, 15), -1) == date(2026, 6, 12)


def test_add_working_days_from_a_saturday_counts_monday_as_the_first(
    norway: WorkingCalendar,
) -> None:
    assert norway.add_working_days(date(2026, 6, 13), 1) == date(2026, 6, 15)


def test_add_working_days_across_easter_in_norway(norway: WorkingCalendar) -> None:
    wednesday_before_easter = date(2026, 4, 1)
    assert norway.add_working_days(wednesday_before_easter, 1) == date(2026, 4, 7)
    assert norway.add_working_days(date(2026, 4, 7), -1) == wednesday_before_easter


def test_add_working_days_across_easter_in_sweden_counts_maundy_thursday(
    sweden: WorkingCalendar,
) -> None:
    assert sweden.add_working_days(date(2026, 4, 1), 1) == date(2026, 4, 2)
    assert sweden.add_working_days(date(2026, 4, 1), 2) == date(2026, 4, 7)


def test_add_zero_working_days_keeps_a_working_day(norway: WorkingCalendar) -> None:
    assert norway.add_working_days(date(2026, 6, 9), 0) == date(2026, 6, 9)


def test_add_zero_working_days_moves_a_day_off_to_the_next_working_day(
    norway: WorkingCalendar,
) -> None:
    assert norway.add_working_days(date(2026, 4, 3), 0) == date(2026, 4, 7)


# --- local time and DST -------------------------------------------------------------


def test_local_is_aware_in_the_calendars_zone(norway: WorkingCalendar) -> None:
    moment = norway.local(date(2026, 6, 9), time(10, 0))
    assert moment.tzinfo == OSLO
    assert moment.astimezone(UTC) == datetime(2026, 6, 9, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize("zone", ["Europe/Oslo", "Europe/Stockholm"])
def test_a_nonexistent_spring_forward_time_moves_to_the_first_valid_instant(zone: str) -> None:
    calendar = WorkingCalendar("NO", zone)
    moment = calendar.local(date(2026, 3, 29), time(2, 30))
    assert moment.astimezone(UTC) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert (moment.hour, moment.minute) == (3, 0)
    assert moment.utcoffset() == timedelta(hours=2)


@pytest.mark.parametrize("zone", ["Europe/Oslo", "Europe/Stockholm"])
def test_an_ambiguous_fall_back_time_is_the_first_occurrence(zone: str) -> None:
    calendar = WorkingCalendar("SE", zone)
    moment = calendar.local(date(2026, 10, 25), time(2, 30))
    assert moment.utcoffset() == timedelta(hours=2)
    assert moment.astimezone(UTC) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_times_just_outside_the_spring_gap_are_unchanged(norway: WorkingCalendar) -> None:
    assert norway.local(date(2026, 3, 29), time(1, 59)).utcoffset() == timedelta(hours=1)
    assert norway.local(date(2026, 3, 29), time(3, 0)).astimezone(UTC) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)


# --- quiet hours --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "quiet"),
    [
        (oslo(2026, 6, 9, 19, 59), False),
        (oslo(2026, 6, 9, 20, 0), True),
        (oslo(2026, 6, 9, 23, 30), True),
        (oslo(2026, 6, 10, 3, 0), True),
        (oslo(2026, 6, 10, 7, 59), True),
        (oslo(2026, 6, 10, 8, 0), False),
        (oslo(2026, 6, 10, 12, 0), False),
    ],
)
def test_default_quiet_hours_run_from_20_to_08_across_midnight(
    norway: WorkingCalendar, moment: datetime, quiet: bool
) -> None:
    assert QuietHours().is_quiet(moment, norway) is quiet


def test_quiet_hours_are_judged_in_the_calendars_local_time(norway: WorkingCalendar) -> None:
    # 18:30 UTC is 20:30 in Oslo in summer.
    assert QuietHours().is_quiet(datetime(2026, 6, 9, 18, 30, tzinfo=UTC), norway)


def test_weekends_are_quiet_all_day_by_default(norway: WorkingCalendar) -> None:
    assert QuietHours().is_quiet(oslo(2026, 6, 13, 12, 0), norway)


def test_weekends_are_not_quiet_in_daytime_when_turned_off(norway: WorkingCalendar) -> None:
    assert not QuietHours(weekends=False).is_quiet(oslo(2026, 6, 13, 12, 0), norway)


def test_a_public_holiday_on_a_weekday_is_quiet_like_a_weekend(norway: WorkingCalendar) -> None:
    assert QuietHours().is_quiet(oslo(2028, 5, 17, 12, 0), norway)


def test_off_is_never_quiet(norway: WorkingCalendar) -> None:
    off = QuietHours.off()
    assert not off.is_quiet(oslo(2026, 6, 13, 3, 0), norway)
    assert not off.is_quiet(oslo(2026, 6, 9, 23, 0), norway)
    assert off.next_allowed(oslo(2026, 6, 13, 3, 0), norway) == oslo(2026, 6, 13, 3, 0)


def test_a_window_within_one_day_works(norway: WorkingCalendar) -> None:
    lunch = QuietHours(time(11, 30), time(12, 30), weekends=False)
    assert lunch.is_quiet(oslo(2026, 6, 9, 12, 0), norway)
    assert not lunch.is_quiet(oslo(2026, 6, 9, 23, 0), norway)
    assert lunch.next_allowed(oslo(2026, 6, 9, 12, 0), norway) == oslo(2026, 6, 9, 12, 30)


def test_next_allowed_returns_a_non_quiet_time_unchanged(norway: WorkingCalendar) -> None:
    moment = oslo(2026, 6, 9, 10, 0)
    assert QuietHours().next_allowed(moment, norway) is moment


def test_next_allowed_in_the_evening_is_08_next_morning(norway: WorkingCalendar) -> None:
    assert QuietHours().next_allowed(oslo(2026, 6, 9, 21, 0), norway) == oslo(2026, 6, 10, 8, 0)


def test_next_allowed_after_midnight_is_08_the_same_morning(norway: WorkingCalendar) -> None:
    assert QuietHours().next_allowed(oslo(2026, 6, 10, 6, 0), norway) == oslo(2026, 6, 10, 8, 0)


def test_next_allowed_on_friday_evening_is_monday_morning(norway: WorkingCalendar) -> None:
    assert QuietHours().next_allowed(oslo(2026, 6, 12, 21, 0), norway) == oslo(2026, 6, 15, 8, 0)


def test_next_allowed_skips_easter_holidays(norway: WorkingCalendar) -> None:
    assert QuietHours().next_allowed(oslo(2026, 4, 1, 21, 0), norway) == oslo(2026, 4, 7, 8, 0)


def test_next_allowed_on_saturday_morning_with_weekends_allowed(norway: WorkingCalendar) -> None:
    quiet = QuietHours(weekends=False)
    assert quiet.next_allowed(oslo(2026, 6, 13, 7, 0), norway) == oslo(2026, 6, 13, 8, 0)


def test_next_allowed_keeps_the_callers_time_zone(norway: WorkingCalendar) -> None:
    shifted = QuietHours().next_allowed(datetime(2026, 6, 9, 19, 0, tzinfo=UTC), norway)
    assert shifted == datetime(2026, 6, 10, 6, 0, tzinfo=UTC)
    assert shifted.tzinfo == UTC


def test_naive_datetimes_are_refused(norway: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="aware"):
        QuietHours().is_quiet(datetime(2026, 6, 9, 21, 0), norway)


# --- parse_quiet --------------------------------------------------------------------


def test_parse_quiet_reads_start_and_end() -> None:
    assert parse_quiet("20:00-08:00") == QuietHours(time(20, 0), time(8, 0), weekends=True)


def test_parse_quiet_tolerates_spaces() -> None:
    assert parse_quiet(" 22:30 - 06:15 ") == QuietHours(time(22, 30), time(6, 15))


@pytest.mark.parametrize("text", ["off", "OFF", " Off "])
def test_parse_quiet_off(text: str) -> None:
    assert parse_quiet(text) == QuietHours.off()


@pytest.mark.parametrize("text", ["", "20-08", "20:00", "25:00-08:00", "20:00-08:61", "nightly"])
def test_parse_quiet_rejects_bad_input_with_the_expected_format(text: str) -> None:
    with pytest.raises(ValueError, match="20:00-08:00"):
        parse_quiet(text)


def test_parse_quiet_rejects_an_empty_window() -> None:
    with pytest.raises(ValueError, match="off"):
        parse_quiet("08:00-08:00")
