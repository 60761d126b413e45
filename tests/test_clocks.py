"""Specification of the statutory clocks (care/clocks.py) on the real pathway files, both calendars.

Sweden (orebro): the municipality's payment responsibility starts three calendar days after
the Utskrivningsklarmeddelande was sent; it stops when the Utskrivningsmeddelande goes out
or the child has gone home. Norway (sthf): the municipality pays from and including the day
the child was declared ready for discharge (a named date), until it says a service is
ready (another date) or the child has gone home.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from homeward.care.calendar import WorkingCalendar
from homeward.care.case import Ack, CaseView, ItemRecord, Membership
from homeward.care.clocks import clock_json, count_days, limit_instant, read_clock, read_clocks
from homeward.care.pathway import Clock, Pathway

STOCKHOLM = ZoneInfo("Europe/Stockholm")
OSLO = ZoneInfo("Europe/Oslo")
UTC = UTC
SE = WorkingCalendar("SE", "Europe/Stockholm")
NO = WorkingCalendar("NO", "Europe/Oslo")


def se(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=STOCKHOLM)


def no(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=OSLO)


def case(pathway: Pathway) -> CaseView:
    people = {
        "@k:x": Membership("@k:x", "kommun" if pathway.id == "orebro" else "kommunen", False),
        "@c:x": Membership("@c:x", None, True),
    }
    return CaseView(pathway=pathway, label="Måsen", phase_id=pathway.phases[0].id, dates={}, members=people, records={})


@pytest.fixture
def orebro(pathways: dict[str, Pathway]) -> CaseView:
    return case(pathways["orebro"])


@pytest.fixture
def sthf(pathways: dict[str, Pathway]) -> CaseView:
    return case(pathways["sthf"])


def sent(view: CaseView, item_id: str, at: datetime) -> None:
    view.records.setdefault(item_id, ItemRecord()).sent_at = at


def payment(view: CaseView, now: datetime, **kw):
    return read_clocks(view, now, **kw)[0]


def working(clock: Clock) -> Clock:
    """The same clock counting working days (as a regional agreement may)."""
    return clock.model_copy(update={"counting": "working_days"})


# --- the pathway files --------------------------------------------------------------
def test_orebro_has_the_payment_clock_of_the_swedish_law_three_calendar_days(pathways: dict[str, Pathway]) -> None:
    clock = pathways["orebro"].clock("betalningsansvar")
    assert (clock.start.item, clock.start.when, clock.counting, clock.limit) == (
        "utskrivningsklarmeddelande",
        "sent",
        "calendar_days",
        3,
    )
    assert [(s.item, s.when) for s in clock.stop] == [("utskrivningsmeddelande", "sent"), ("hemgang", "done")]
    assert "2017:612" in clock.source and "tre kalenderdagar" in clock.source and clock.note


def test_sthf_has_the_payment_clock_of_the_norwegian_regulation_from_the_day_itself(
    pathways: dict[str, Pathway],
) -> None:
    clock = pathways["sthf"].clock("betalingsplikt")
    assert (clock.start.date, clock.counting, clock.limit) == ("ready_for_discharge", "calendar_days", 0)
    assert [(s.date, s.item) for s in clock.stop] == [("municipal_offer_ready", None), (None, "hjemreise")]
    assert "§ 13" in clock.source and "fra og med det døgnet" in clock.source and clock.note


# --- counting days -------------------------------------------------------------------
def test_calendar_days_count_from_the_start_day_as_day_zero() -> None:
    assert count_days(se(2026, 11, 30, 10), se(2026, 11, 30, 23, 59), "calendar_days", SE) == 0
    assert count_days(se(2026, 11, 30, 10), se(2026, 12, 1, 0, 1), "calendar_days", SE) == 1
    assert count_days(se(2026, 11, 30, 10), se(2026, 12, 3, 9), "calendar_days", SE) == 3


def test_calendar_days_count_the_weekend() -> None:
    assert count_days(se(2026, 12, 4, 10), se(2026, 12, 7, 9), "calendar_days", SE) == 3  # Friday to Monday


def test_working_days_skip_the_weekend() -> None:
    assert count_days(se(2026, 12, 4, 10), se(2026, 12, 6, 9), "working_days", SE) == 0  # Friday to Sunday
    assert count_days(se(2026, 12, 4, 10), se(2026, 12, 8, 9), "working_days", SE) == 2  # to Tuesday


def test_working_days_skip_the_swedish_christmas_days_off() -> None:
    # Wednesday 23 December: julafton (de facto off), juldagen, annandag jul (Saturday), Sunday all skipped.
    assert count_days(se(2026, 12, 23, 10), se(2026, 12, 28, 9), "working_days", SE) == 1
    assert limit_instant(se(2026, 12, 23, 10), 3, "working_days", SE) == se(2026, 12, 30, 0, 0)


def test_working_days_skip_the_norwegian_constitution_day() -> None:
    # Friday 14 May 2027; Monday 17 May is Grunnlovsdag.
    assert count_days(no(2027, 5, 14, 12), no(2027, 5, 17, 12), "working_days", NO) == 0
    assert limit_instant(no(2027, 5, 14, 12), 1, "working_days", NO) == no(2027, 5, 18, 0, 0)


def test_a_spring_forward_night_is_one_day_and_the_limit_is_local_midnight() -> None:
    # Sweden moves to summer time in the night to Sunday 28 March 2027.
    start = se(2027, 3, 26, 22, 30)
    assert count_days(start, se(2027, 3, 28, 23, 59), "calendar_days", SE) == 2
    reached = limit_instant(start, 3, "calendar_days", SE)
    assert reached == se(2027, 3, 29, 0, 0) and reached.astimezone(UTC) == datetime(2027, 3, 28, 22, 0, tzinfo=UTC)


def test_a_fall_back_night_is_one_day_and_the_limit_is_local_midnight() -> None:
    # Norway moves back to winter time in the night to Sunday 25 October 2026.
    start = no(2026, 10, 23, 10)
    reached = limit_instant(start, 3, "calendar_days", NO)
    assert reached.astimezone(OSLO).time() == time(0, 0)
    assert reached.astimezone(UTC) == datetime(2026, 10, 25, 23, 0, tzinfo=UTC)
    assert count_days(start, no(2026, 10, 25, 23, 30), "calendar_days", NO) == 2


def test_a_limit_of_zero_is_reached_when_the_clock_starts() -> None:
    assert limit_instant(no(2026, 12, 10, 9, 15), 0, "calendar_days", NO) == no(2026, 12, 10, 9, 15)


def test_an_unknown_way_of_counting_is_refused() -> None:
    with pytest.raises(ValueError, match="calendar_days or working_days"):
        count_days(se(2026, 12, 1), se(2026, 12, 9), "weeks", SE)


# --- Sweden: the payment responsibility ------------------------------------------------
def test_the_swedish_clock_has_not_started_before_the_notice_is_sent(orebro: CaseView) -> None:
    reading = payment(orebro, se(2026, 12, 1, 9))
    assert (reading.state, reading.started_at, reading.days, reading.reached) == ("not_started", None, None, False)


def test_the_swedish_clock_runs_from_the_notice_and_reaches_its_limit_on_the_third_day(orebro: CaseView) -> None:
    sent(orebro, "utskrivningsklarmeddelande", se(2026, 11, 30, 10))  # Monday
    wednesday = payment(orebro, se(2026, 12, 2, 23, 59))
    assert (wednesday.state, wednesday.days, wednesday.reached) == ("running", 2, False)
    assert wednesday.limit_at == se(2026, 12, 3, 0, 0)  # the municipality pays from Thursday
    thursday = payment(orebro, se(2026, 12, 3, 0, 1))
    assert (thursday.days, thursday.reached) == (3, True)


def test_the_swedish_clock_stops_when_the_discharge_notice_is_sent(orebro: CaseView) -> None:
    sent(orebro, "utskrivningsklarmeddelande", se(2026, 11, 30, 10))
    sent(orebro, "utskrivningsmeddelande", se(2026, 12, 5, 11))
    reading = payment(orebro, se(2026, 12, 20, 9))
    assert (reading.state, reading.stopped_at, reading.days, reading.reached) == (
        "stopped",
        se(2026, 12, 5, 11),
        5,
        True,
    )


def test_the_swedish_clock_stops_at_the_first_of_its_stops(orebro: CaseView) -> None:
    sent(orebro, "utskrivningsklarmeddelande", se(2026, 11, 30, 10))
    orebro.records["hemgang"] = ItemRecord(acks=[Ack("patient", "@p:x", se(2026, 12, 1, 15))])
    sent(orebro, "utskrivningsmeddelande", se(2026, 12, 4, 11))
    reading = payment(orebro, se(2026, 12, 20, 9))
    assert (reading.stopped_at, reading.days, reading.reached) == (se(2026, 12, 1, 15), 1, False)


def test_a_stop_recorded_before_the_start_does_not_stop_the_clock(orebro: CaseView) -> None:
    orebro.records["hemgang"] = ItemRecord(acks=[Ack("patient", "@p:x", se(2026, 11, 20, 15))])
    sent(orebro, "utskrivningsklarmeddelande", se(2026, 11, 30, 10))
    assert payment(orebro, se(2026, 12, 1, 9)).state == "running"


def test_working_days_counting_reaches_the_limit_after_the_weekend(orebro: CaseView) -> None:
    sent(orebro, "utskrivningsklarmeddelande", se(2026, 12, 4, 10))  # Friday
    clock = working(orebro.pathway.clock("betalningsansvar"))
    monday = read_clock(orebro, clock, se(2026, 12, 7, 12))
    assert (monday.days, monday.reached, monday.limit_at) == (1, False, se(2026, 12, 9, 0, 0))


def test_a_closed_case_stops_its_running_clock_at_the_closing(orebro: CaseView) -> None:
    sent(orebro, "utskrivningsklarmeddelande", se(2026, 11, 30, 10))
    reading = payment(orebro, se(2026, 12, 20, 9), closed_at=se(2026, 12, 2, 16))
    assert (reading.state, reading.stopped_at, reading.days, reading.reached) == (
        "stopped",
        se(2026, 12, 2, 16),
        2,
        False,
    )


# --- Norway: the payment duty -------------------------------------------------------------
def test_the_norwegian_clock_counts_from_the_day_declared_ready_and_pays_that_day(sthf: CaseView) -> None:
    sthf.dates["ready_for_discharge"] = date(2026, 12, 10)
    reading = payment(sthf, no(2026, 12, 10, 9))
    assert (reading.state, reading.started_at, reading.days, reading.reached) == (
        "running",
        no(2026, 12, 10, 0, 0),
        0,
        True,
    )
    assert reading.limit_at == reading.started_at


def test_the_norwegian_clock_waits_for_a_ready_date_ahead(sthf: CaseView) -> None:
    sthf.dates["ready_for_discharge"] = date(2026, 12, 10)
    reading = payment(sthf, no(2026, 12, 9, 9))
    assert (reading.state, reading.days, reading.reached) == ("waiting", None, False)


def test_the_norwegian_clock_stops_on_the_day_the_municipality_says_a_service_is_ready(sthf: CaseView) -> None:
    sthf.dates["ready_for_discharge"] = date(2026, 12, 10)
    sthf.dates["municipal_offer_ready"] = date(2026, 12, 14)
    reading = payment(sthf, no(2026, 12, 20, 9))
    assert (reading.state, reading.stopped_at, reading.days) == ("stopped", no(2026, 12, 14, 0, 0), 4)


def test_a_service_ready_date_still_ahead_does_not_stop_the_clock_yet(sthf: CaseView) -> None:
    sthf.dates["ready_for_discharge"] = date(2026, 12, 10)
    sthf.dates["municipal_offer_ready"] = date(2026, 12, 14)
    reading = payment(sthf, no(2026, 12, 12, 9))
    assert (reading.state, reading.days) == ("running", 2)


def test_the_norwegian_clock_stops_when_the_child_has_gone_home(sthf: CaseView) -> None:
    sthf.dates["ready_for_discharge"] = no(2026, 12, 10, 13, 30)
    sthf.records["hjemreise"] = ItemRecord(acks=[Ack("familien", "@f:x", no(2026, 12, 11, 12))])
    reading = payment(sthf, no(2026, 12, 20, 9))
    assert (reading.state, reading.stopped_at, reading.days) == ("stopped", no(2026, 12, 11, 12), 1)


def test_the_clock_as_data_names_its_source_and_days(sthf: CaseView) -> None:
    sthf.dates["ready_for_discharge"] = date(2026, 12, 10)
    shown = clock_json(payment(sthf, no(2026, 12, 12, 9)))
    assert shown["id"] == "betalingsplikt" and shown["days"] == 2 and shown["stopped_at"] is None
    assert shown["started_at"] == "2026-12-10T00:00:00+01:00" and "§ 13" in str(shown["source"])
    assert set(shown) >= {"id", "label", "started_at", "stopped_at", "days", "source"}
