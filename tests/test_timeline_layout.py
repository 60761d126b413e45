"""Specification of what the timeline picture shows (care/timeline.py), before anything is drawn.

An Örebro case admitted on Monday 30 November 2026 at 10:00: which phase bands, which
marks in which colours, which dates, which clocks — and the awkward cases: nothing
planned yet, a single day, a year, 100+ items, a daylight-saving change, a closed case.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from homeward.care.case import Ack, CaseView, ExtraTask, ItemRecord, Membership
from homeward.care.clocks import read_clocks
from homeward.care.pathway import Item, Pathway
from homeward.care.timeline import (
    BAND_COLOURS,
    MAX_STACK,
    STATE_COLOURS,
    timeline_json,
    timeline_layout,
)
from tests.unit import shipped_pathways

STOCKHOLM = ZoneInfo("Europe/Stockholm")
UTC = UTC


def se(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=STOCKHOLM)


OPENED = se(2026, 11, 30, 9)
ADMITTED = se(2026, 11, 30, 10)
PLANNING = se(2026, 12, 2, 14)  # `!phase next` into planering
NOW = se(2026, 12, 4, 11)


@pytest.fixture(scope="module")
def pathway() -> Pathway:
    return shipped_pathways()["orebro"]


@pytest.fixture
def view(pathway: Pathway) -> CaseView:
    members = {"@c:x": Membership("@c:x", None, True), "@k:x": Membership("@k:x", "kommun", False)}
    return CaseView(pathway=pathway, label="Måsen", phase_id="planering", dates={}, members=members, records={})


HISTORY = [("identifiering", OPENED), ("planering", PLANNING)]


def task(view: CaseView, item_id: str, lane: str, due: datetime | None, phase: str = "planering") -> None:
    view.extra[item_id] = ExtraTask(
        Item(id=item_id, kind="task", title=f"Uppgift {item_id}", text="x", mandatory=False, lane=lane), phase, due
    )


def done(view: CaseView, item_id: str, lane: str, at: datetime) -> None:
    view.records.setdefault(item_id, ItemRecord()).acks.append(Ack(lane, "@k:x", at))


def mark(layout, item_id: str):
    return next(m for m in layout.marks if m.item_id == item_id)


# --- nothing planned ------------------------------------------------------------------------
def test_nothing_planned_yet_is_an_empty_layout_said_in_words_not_an_empty_axis(view: CaseView) -> None:
    layout = timeline_layout(view, NOW, HISTORY)
    assert layout.empty and layout.marks == () and layout.markers == () and layout.clocks == ()
    assert timeline_json(layout)["empty"] is True


# --- phase bands --------------------------------------------------------------------------------
def test_the_phases_the_case_went_through_are_bands_and_the_current_one_runs_until_now(view: CaseView) -> None:
    view.dates["admission"] = ADMITTED
    layout = timeline_layout(view, NOW, HISTORY)
    first, current = layout.bands[:2]
    assert (first.phase_id, first.state, first.start, first.end) == ("identifiering", "done", OPENED, PLANNING)
    assert (current.phase_id, current.state, current.start, current.end) == ("planering", "current", PLANNING, NOW)
    assert first.colour == BAND_COLOURS["done"][0] and current.colour == BAND_COLOURS["current"][0]
    assert first.title == "Identifiering, Bedömning"


def test_a_phase_ahead_with_dated_items_is_a_planned_band_after_today(view: CaseView) -> None:
    task(view, "a1", "kommun", se(2026, 12, 10, 12), phase="utskrivning")
    task(view, "a2", "kommun", se(2026, 12, 14, 12), phase="utskrivning")
    planned = [b for b in timeline_layout(view, NOW, HISTORY).bands if b.state == "planned"]
    assert [(b.phase_id, b.start, b.end) for b in planned] == [
        ("utskrivning", se(2026, 12, 10, 12), se(2026, 12, 14, 12))
    ]
    assert planned[0].colour == BAND_COLOURS["planned"][0]


# --- marks ----------------------------------------------------------------------------------------
def test_each_item_with_a_due_time_is_a_mark_coloured_by_its_state(view: CaseView) -> None:
    task(view, "on-time", "kommun", se(2026, 12, 3, 16))
    done(view, "on-time", "kommun", se(2026, 12, 3, 9))
    task(view, "late", "oppenvard", se(2026, 12, 2, 16))
    done(view, "late", "oppenvard", se(2026, 12, 3, 10))
    task(view, "ahead", "slutenvard", se(2026, 12, 9, 16))
    task(view, "behind", "slutenvard", se(2026, 12, 3, 16))
    task(view, "undated", "kommun", None)
    layout = timeline_layout(view, NOW, HISTORY)
    states = {m.item_id: (m.state, m.colour) for m in layout.marks}
    assert states == {
        "on-time": ("done_on_time", STATE_COLOURS["done_on_time"]),
        "late": ("done_late", STATE_COLOURS["done_late"]),
        "ahead": ("open", STATE_COLOURS["open"]),
        "behind": ("overdue", STATE_COLOURS["overdue"]),
    }
    assert mark(layout, "late").done_at == se(2026, 12, 3, 10)
    assert layout.counts == {"done_on_time": 1, "done_late": 1, "open": 1, "overdue": 1}


def test_the_colours_are_the_colour_blind_safe_okabe_ito_ones() -> None:
    assert STATE_COLOURS == {"done_on_time": "#009E73", "done_late": "#E69F00", "open": "#0072B2", "overdue": "#D55E00"}


def test_a_notice_is_marked_in_its_senders_row_at_its_due_time(view: CaseView) -> None:
    view.dates["admission"] = ADMITTED
    layout = timeline_layout(view, NOW, HISTORY)
    notice = mark(layout, "inskrivningsmeddelande")  # due 24 hours after admission, not sent: overdue
    assert layout.rows[notice.row].lane_id == "slutenvard"
    assert (notice.at, notice.state) == (se(2026, 12, 1, 10), "overdue")


def test_the_lanes_that_own_or_send_items_are_the_rows_in_the_pathways_order(view: CaseView) -> None:
    view.dates["admission"] = ADMITTED
    rows = [row.lane_id for row in timeline_layout(view, NOW, HISTORY).rows]
    assert rows == ["patient", "kommun", "oppenvard", "slutenvard"]  # not the guardian and child lanes (people only)


# --- dates and clocks -------------------------------------------------------------------------------
def test_the_named_dates_that_are_set_are_markers_meetings_marked_as_such(view: CaseView) -> None:
    view.dates["admission"] = ADMITTED
    view.dates["discharge"] = date(2026, 12, 14)
    view.dates["sip_meeting"] = se(2026, 12, 8, 10)
    markers = {m.date_id: m for m in timeline_layout(view, NOW, HISTORY).markers}
    assert set(markers) == {"admission", "discharge", "sip_meeting"}
    assert (
        markers["discharge"].at == se(2026, 12, 14, 12)
        and markers["discharge"].label == "Preliminärt utskrivningsdatum"
    )
    assert markers["sip_meeting"].kind == "meeting" and markers["admission"].kind == "date"


def test_dates_close_together_get_their_labels_on_different_levels(view: CaseView) -> None:
    view.dates["admission"] = ADMITTED
    view.dates["sip_meeting"] = se(2026, 11, 30, 15)
    view.dates["discharge"] = date(2026, 12, 28)
    levels = {m.date_id: m.level for m in timeline_layout(view, NOW, HISTORY).markers}
    assert levels["admission"] != levels["sip_meeting"] and levels["discharge"] == 0


def test_a_running_clock_is_a_bar_until_now_past_its_limit(view: CaseView) -> None:
    view.records["utskrivningsklarmeddelande"] = ItemRecord(sent_at=se(2026, 11, 30, 10))
    layout = timeline_layout(view, NOW, HISTORY, read_clocks(view, NOW))
    [bar] = layout.clocks
    assert (bar.clock_id, bar.start, bar.end, bar.limit_at) == (
        "betalningsansvar",
        se(2026, 11, 30, 10),
        NOW,
        se(2026, 12, 3, 0, 0),
    )
    assert (bar.reached, bar.days, bar.state) == (True, 4, "running")
    assert not layout.empty  # a running clock alone is something to show


# --- the awkward cases -----------------------------------------------------------------------------
def test_a_single_day_is_shown_as_at_least_a_day_ticking_in_hours(view: CaseView) -> None:
    task(view, "morning", "kommun", se(2026, 12, 4, 9))
    task(view, "noon", "kommun", se(2026, 12, 4, 12))
    layout = timeline_layout(view, se(2026, 12, 4, 10), [("planering", se(2026, 12, 4, 8))])
    assert layout.span == "hours" and layout.end - layout.start >= timedelta(days=1)
    assert layout.start <= se(2026, 12, 4, 8) and layout.end >= se(2026, 12, 4, 12)


def test_a_case_spanning_a_year_ticks_in_months(view: CaseView) -> None:
    view.dates["admission"] = ADMITTED
    view.dates["followup"] = date(2027, 12, 1)
    layout = timeline_layout(view, NOW, HISTORY)
    assert layout.span == "months" and layout.end >= se(2027, 12, 1, 12)


def test_more_than_a_hundred_items_stack_per_lane_and_day_and_the_rest_are_counted(view: CaseView) -> None:
    view.dates["admission"] = ADMITTED
    for n in range(100):
        task(
            view,
            f"a{n}",
            ("kommun", "oppenvard", "slutenvard", "patient")[n % 4],
            se(2026, 12, 5, 16) + timedelta(days=n % 25),
        )
    for n in range(8):  # eight on one lane's day
        task(view, f"same{n}", "kommun", se(2026, 12, 30, 10 + n))
    layout = timeline_layout(view, NOW, HISTORY)
    assert len(view.items()) >= 127 and len(layout.marks) >= 108
    same = sorted((m for m in layout.marks if m.item_id.startswith("same")), key=lambda m: m.slot)
    assert [m.slot for m in same] == list(range(8)) and [m.shown for m in same] == [True] * MAX_STACK + [False] * 3
    [crowd] = layout.crowds
    assert crowd.day == date(2026, 12, 30)
    assert crowd.hidden == 3 and layout.rows[crowd.row].lane_id == "kommun"
    shown = timeline_json(layout)
    assert len(shown["items"]) == len(layout.marks) and sum(1 for i in shown["items"] if not i["shown"]) == 3


def test_a_due_time_after_the_spring_change_is_drawn_at_its_local_wall_time(view: CaseView) -> None:
    # Sweden moves to summer time in the night to Sunday 29 March 2026.
    task(view, "before", "kommun", se(2026, 3, 27, 16))
    task(view, "after", "kommun", se(2026, 3, 30, 16))
    layout = timeline_layout(view, se(2026, 3, 28, 12), [("planering", se(2026, 3, 26, 9))])
    after = mark(layout, "after")
    assert after.at.tzinfo == STOCKHOLM and (after.at.hour, after.at.minute) == (16, 0)
    assert after.at.utcoffset() == timedelta(hours=2) and mark(layout, "before").at.utcoffset() == timedelta(hours=1)


def test_a_closed_case_ends_at_its_closing_without_a_today_line(view: CaseView) -> None:
    view.dates["admission"] = ADMITTED
    task(view, "after-closing", "kommun", se(2026, 12, 10, 16), phase="utskrivning")
    view.records["utskrivningsklarmeddelande"] = ItemRecord(sent_at=se(2026, 12, 1, 10))
    closed = se(2026, 12, 3, 12)
    later = se(2027, 1, 20, 9)
    layout = timeline_layout(view, later, HISTORY, read_clocks(view, later, closed_at=closed), closed_at=closed)
    assert layout.today is None and layout.closed_at == closed
    assert [(b.phase_id, b.state, b.end) for b in layout.bands] == [
        ("identifiering", "done", PLANNING),
        ("planering", "done", closed),
    ]
    assert mark(layout, "after-closing").state == "open"  # read at the closing, not "overdue" weeks later
    [bar] = layout.clocks
    assert (bar.state, bar.end, bar.days) == ("stopped", closed, 2)
    assert timeline_json(layout)["closed_at"] == closed.isoformat() and timeline_json(layout)["today"] is None


def test_the_timeline_as_data_lists_phases_items_and_clocks_with_their_states(view: CaseView) -> None:
    view.dates["admission"] = ADMITTED
    view.records["utskrivningsklarmeddelande"] = ItemRecord(sent_at=se(2026, 11, 30, 10))
    shown = timeline_json(timeline_layout(view, NOW, HISTORY, read_clocks(view, NOW)))
    assert [p["id"] for p in shown["phases"]][:2] == ["identifiering", "planering"]
    item = next(i for i in shown["items"] if i["id"] == "inskrivningsmeddelande")
    assert (item["lane"], item["state"], item["due"]) == ("slutenvard", "overdue", se(2026, 12, 1, 10).isoformat())
    assert shown["clocks"][0]["id"] == "betalningsansvar" and shown["clocks"][0]["reached"] is True
    assert shown["dates"] == [{"id": "admission", "at": ADMITTED.isoformat()}]


def test_a_notice_sent_after_its_own_due_time_is_done_late_and_marked_at_that_time(view: CaseView) -> None:
    view.records["utskrivningsklarmeddelande"] = ItemRecord(sent_at=se(2026, 11, 30, 10))
    view.records["kallelse-sip"] = ItemRecord(  # due three days after the utskrivningsklarmeddelande; sent a day late
        sent_at=se(2026, 12, 4, 9), acks=[Ack("kommun", "@k:x", se(2026, 12, 4, 11))]
    )
    summons = mark(timeline_layout(view, NOW, HISTORY), "kallelse-sip")
    assert (summons.at, summons.state, summons.done_at) == (se(2026, 12, 3, 10), "done_late", se(2026, 12, 4, 11))


def test_the_reasons_lanes_gave_for_late_items_go_beside_their_marks() -> None:
    from homeward.care.case import GivenReason

    pathway = shipped_pathways()["orebro"]
    zone = ZoneInfo("Europe/Stockholm")
    opened = datetime(2026, 11, 30, 9, tzinfo=zone)
    view = CaseView(
        pathway=pathway,
        label="L",
        phase_id="planering",
        dates={"admission": opened},
        members={},
        records={
            "utskrivningsklarmeddelande": ItemRecord(sent_at=opened + timedelta(days=1)),
            "kallelse-sip": ItemRecord(sent_at=opened + timedelta(days=6)),  # due three days after: late
        },
    )
    now = opened + timedelta(days=8)
    view.reasons[("kallelse-sip", "oppenvard")] = GivenReason(
        "kallelse-sip", "oppenvard", "familjen", "family", "@o:x", now
    )
    history = [("identifiering", opened), ("planering", opened + timedelta(days=1))]
    layout = timeline_layout(view, now, history, read_clocks(view, now))
    (note,) = layout.reasons
    mark = next(m for m in layout.marks if m.item_id == "kallelse-sip")
    assert (note.item_id, note.words, note.row, note.at) == ("kallelse-sip", "familjen", mark.row, mark.at)
    assert timeline_json(layout)["reasons"] == [{"item": "kallelse-sip", "lanes": {"oppenvard": "familjen"}}]
    view.reasons[("kallelse-sip", "kommun")] = GivenReason("kallelse-sip", "kommun", "personal", "staff", "@k:x", now)
    (both,) = timeline_layout(view, now, history, read_clocks(view, now)).reasons
    assert both.words == "personal/familjen"
