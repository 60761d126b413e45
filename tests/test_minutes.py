"""Specification of meeting minutes (care/minutes.py) on the real pathway files.

Minutes are the fold of their change records. Each test opens minutes for a meeting
of a pathway (or an extra one), applies the changes the operations return, as the bot
would after storing them, and checks one behaviour: what is recorded (present, notes,
decisions, actions, topic answers), that closing locks and a reopen with a reason
unlocks, and every refusal.

The running example is STHF's Planleggingsmøte 1, whose agenda has eleven lines
(sub-lines count: line 5 is "Individuell plan", under "Kommunen formidler
pasientrettigheter"), planned for Thursday 10 December 2026 at 13:00 in Oslo.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from homeward.care.changelog import MAX_TEXT
from homeward.care.minutes import (
    EXTRA,
    Minutes,
    MinutesChange,
    add_decision,
    add_note,
    add_present,
    answer_topic,
    apply_minutes,
    assign_action,
    close,
    fold_minutes,
    new_minutes,
    reopen,
    reschedule,
    strike,
)
from homeward.care.pathway import Pathway
from homeward.care.refusal import Refusal

OSLO = ZoneInfo("Europe/Oslo")
UTC = UTC
START = datetime(2026, 12, 10, 13, 0, tzinfo=OSLO)
HOUR = timedelta(hours=1)
T0 = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)
CORA = "@cora:example.org"
KARL = "@karl:example.org"
FRIDA = "@frida:example.org"


@pytest.fixture
def sthf(pathways: dict[str, Pathway]) -> Pathway:
    return pathways["sthf"]


@pytest.fixture
def meeting1(sthf: Pathway) -> Minutes:
    """Fresh minutes of STHF's Planleggingsmøte 1."""
    return fold_minutes([new_minutes(sthf, "meeting1", START, HOUR, by=CORA, at=T0)])


def tick(minutes: Minutes) -> datetime:
    """A moment one minute after the last change, so changes have distinct times."""
    return T0 + timedelta(minutes=minutes.version)


def closed(minutes: Minutes) -> Minutes:
    return apply_minutes(minutes, close(minutes, by=CORA, at=tick(minutes)))


def refusal_of(excinfo: pytest.ExceptionInfo[Refusal]) -> tuple[str, dict[str, object]]:
    return excinfo.value.key, excinfo.value.values


# --- opening ------------------------------------------------------------------------------


def test_minutes_of_a_pathway_meeting_copy_its_title_and_agenda(meeting1: Minutes, sthf: Pathway) -> None:
    assert (meeting1.meeting, meeting1.title, meeting1.topics) == (
        "meeting1",
        "Planleggingsmøte 1",
        tuple(sthf.meeting("meeting1").topic_lines()),
    )


def test_minutes_know_the_planned_start_and_end(meeting1: Minutes) -> None:
    assert (meeting1.start, meeting1.end) == (START, START + HOUR)


def test_new_minutes_are_open_at_version_1(meeting1: Minutes) -> None:
    assert (meeting1.version, meeting1.closed, meeting1.changed_by) == (1, False, CORA)


def test_an_extra_meeting_has_its_own_title_and_agenda(sthf: Pathway) -> None:
    change = new_minutes(sthf, EXTRA, START, HOUR, by=CORA, at=T0, title="Ekstra møte", topics=["Utstyr", "Opplæring"])
    minutes = fold_minutes([change])
    assert (minutes.is_extra, minutes.title, minutes.topics) == (True, "Ekstra møte", ("Utstyr", "Opplæring"))


def test_an_extra_meeting_without_a_title_is_refused(sthf: Pathway) -> None:
    with pytest.raises(Refusal) as excinfo:
        new_minutes(sthf, EXTRA, START, HOUR, by=CORA, at=T0)
    assert excinfo.value.key == "minutes.empty_text"


def test_an_unknown_meeting_is_refused_with_the_meetings_there_are(sthf: Pathway) -> None:
    with pytest.raises(Refusal) as excinfo:
        new_minutes(sthf, "sip_meeting", START, HOUR, by=CORA, at=T0)
    assert refusal_of(excinfo) == (
        "minutes.unknown_meeting",
        {"meeting": "sip_meeting", "meetings": "meeting1, meeting_before_discharge, extra"},
    )


@pytest.mark.parametrize("duration", [timedelta(0), timedelta(minutes=-30), timedelta(hours=25)])
def test_a_duration_that_cannot_be_meant_is_refused(sthf: Pathway, duration: timedelta) -> None:
    with pytest.raises(Refusal) as excinfo:
        new_minutes(sthf, "meeting1", START, duration, by=CORA, at=T0)
    assert refusal_of(excinfo) == ("minutes.bad_duration", {"minutes": int(duration.total_seconds() // 60)})


def test_a_planned_start_without_a_time_zone_is_a_programming_error(sthf: Pathway) -> None:
    with pytest.raises(ValueError):
        new_minutes(sthf, "meeting1", datetime(2026, 12, 10, 13, 0), HOUR, by=CORA, at=T0)


def test_the_meeting_can_be_moved(meeting1: Minutes) -> None:
    later = START + timedelta(days=1)
    minutes = apply_minutes(meeting1, reschedule(meeting1, later, 2 * HOUR, by=CORA, at=tick(meeting1)))
    assert (minutes.start, minutes.duration) == (later, 2 * HOUR)


# --- what is recorded ---------------------------------------------------------------------


def test_present_people_are_recorded_once_each(meeting1: Minutes) -> None:
    minutes = apply_minutes(meeting1, add_present(meeting1, [KARL, FRIDA, KARL], by=CORA, at=tick(meeting1)))
    minutes = apply_minutes(minutes, add_present(minutes, [FRIDA, CORA], by=CORA, at=tick(minutes)))
    assert minutes.present == (KARL, FRIDA, CORA)


def test_people_all_already_present_are_refused(meeting1: Minutes) -> None:
    minutes = apply_minutes(meeting1, add_present(meeting1, [KARL], by=CORA, at=tick(meeting1)))
    with pytest.raises(Refusal) as excinfo:
        add_present(minutes, [KARL], by=CORA, at=tick(minutes))
    assert refusal_of(excinfo) == ("minutes.already_present", {"users": KARL})


def test_a_malformed_user_id_is_refused_as_present(meeting1: Minutes) -> None:
    with pytest.raises(Refusal) as excinfo:
        add_present(meeting1, ["karl"], by=CORA, at=T0)
    assert refusal_of(excinfo) == ("minutes.bad_user", {"user": "karl"})


def test_notes_are_recorded_in_order_with_their_line_breaks(meeting1: Minutes) -> None:
    minutes = apply_minutes(meeting1, add_note(meeting1, "Mor ønsker\nhjemreise før jul", by=KARL, at=tick(meeting1)))
    minutes = apply_minutes(minutes, add_note(minutes, "Sonde byttes hver 3. måned", by=CORA, at=tick(minutes)))
    assert [(n.ref, n.text, n.by) for n in minutes.notes] == [
        ("n1", "Mor ønsker\nhjemreise før jul", KARL),
        ("n2", "Sonde byttes hver 3. måned", CORA),
    ]


def test_decisions_are_recorded_apart_from_notes(meeting1: Minutes) -> None:
    minutes = apply_minutes(meeting1, add_decision(meeting1, "Kommunen søker om BPA", by=CORA, at=tick(meeting1)))
    assert ([d.ref for d in minutes.decisions], minutes.notes) == (["d1"], ())


def test_an_action_becomes_task_data_with_owner_lane_and_due_date(meeting1: Minutes, sthf: Pathway) -> None:
    change = assign_action(meeting1, sthf, "Søke om BPA", "Kommune", by=CORA, at=tick(meeting1), due=date(2026, 12, 17))
    minutes = apply_minutes(meeting1, change)
    action = minutes.actions[0]
    assert (action.ref, action.text, action.owner, action.owner_is_lane, action.due) == (
        "a1",
        "Søke om BPA",
        "kommunen",
        True,
        date(2026, 12, 17),
    )


def test_an_action_may_be_owned_by_a_person_without_a_due_date(meeting1: Minutes, sthf: Pathway) -> None:
    minutes = apply_minutes(
        meeting1, assign_action(meeting1, sthf, "Bestille utstyr", KARL, by=CORA, at=tick(meeting1))
    )
    action = minutes.actions[0]
    assert (action.owner, action.owner_is_lane, action.due) == (KARL, False, None)


def test_an_action_due_on_the_meeting_day_is_accepted(meeting1: Minutes, sthf: Pathway) -> None:
    change = assign_action(meeting1, sthf, "Sende referat", "kommunen", by=CORA, at=T0, due=date(2026, 12, 10))
    assert change.due == date(2026, 12, 10)


def test_an_action_due_before_the_meeting_is_refused(meeting1: Minutes, sthf: Pathway) -> None:
    with pytest.raises(Refusal) as excinfo:
        assign_action(meeting1, sthf, "Søke om BPA", "kommunen", by=CORA, at=T0, due=date(2026, 12, 9))
    assert refusal_of(excinfo) == ("minutes.due_before_meeting", {"due": "2026-12-09", "day": "2026-12-10"})


def test_an_action_for_a_lane_outside_the_pathway_is_refused(meeting1: Minutes, sthf: Pathway) -> None:
    with pytest.raises(Refusal) as excinfo:
        assign_action(meeting1, sthf, "Søke om BPA", "kommun_x", by=CORA, at=T0)
    assert refusal_of(excinfo) == (
        "minutes.unknown_lane",
        {"lane": "kommun_x", "lanes": "familien, foresatt, barn, kommunen, sykehus"},
    )


def test_a_topic_is_answered_by_its_agenda_number(meeting1: Minutes) -> None:
    change = answer_topic(meeting1, 5, "Familien ønsker individuell plan", by=CORA, at=tick(meeting1))
    minutes = apply_minutes(meeting1, change)
    answer = minutes.answer(5)
    assert answer is not None
    assert (answer.ref, answer.topic, answer.text) == ("t5", "Individuell plan", "Familien ønsker individuell plan")


def test_a_topic_can_be_named_as_typed_in_chat(meeting1: Minutes) -> None:
    assert answer_topic(meeting1, "t2", "Være hjemme", by=CORA, at=T0).ref == "t2"


def test_a_new_answer_to_a_topic_replaces_the_old_one(meeting1: Minutes) -> None:
    minutes = apply_minutes(meeting1, answer_topic(meeting1, 2, "Hjem", by=CORA, at=tick(meeting1)))
    minutes = apply_minutes(minutes, answer_topic(minutes, 2, "Hjem før jul", by=KARL, at=tick(minutes)))
    assert [(a.n, a.text, a.by) for a in minutes.answers] == [(2, "Hjem før jul", KARL)]


def test_unanswered_topics_are_listed_by_number(meeting1: Minutes) -> None:
    minutes = apply_minutes(meeting1, answer_topic(meeting1, 2, "Hjem", by=CORA, at=tick(meeting1)))
    assert minutes.unanswered() == [1, *range(3, 12)]


@pytest.mark.parametrize("n", [0, 12, "t99", "x"])
def test_an_unknown_topic_number_is_refused_with_the_agenda_length(meeting1: Minutes, n: int | str) -> None:
    with pytest.raises(Refusal) as excinfo:
        answer_topic(meeting1, n, "Svar", by=CORA, at=T0)
    assert refusal_of(excinfo) == ("minutes.unknown_topic", {"n": n, "count": 11})


def test_any_topic_of_an_extra_meeting_without_agenda_is_refused(sthf: Pathway) -> None:
    minutes = fold_minutes([new_minutes(sthf, EXTRA, START, HOUR, by=CORA, at=T0, title="Ekstra møte")])
    with pytest.raises(Refusal) as excinfo:
        answer_topic(minutes, 1, "Svar", by=CORA, at=T0)
    assert refusal_of(excinfo) == ("minutes.unknown_topic", {"n": 1, "count": 0})


def test_an_empty_note_is_refused(meeting1: Minutes) -> None:
    with pytest.raises(Refusal) as excinfo:
        add_note(meeting1, " \n ", by=CORA, at=T0)
    assert refusal_of(excinfo) == ("minutes.empty_text", {})


def test_a_note_longer_than_the_limit_is_refused(meeting1: Minutes) -> None:
    with pytest.raises(Refusal) as excinfo:
        add_note(meeting1, "x" * (MAX_TEXT + 1), by=CORA, at=T0)
    assert refusal_of(excinfo) == ("minutes.too_long", {"limit": 2000, "length": 2001})


# --- striking -----------------------------------------------------------------------------


def test_a_struck_action_leaves_the_minutes_but_stays_in_history(meeting1: Minutes, sthf: Pathway) -> None:
    minutes = apply_minutes(
        meeting1, assign_action(meeting1, sthf, "Søke om BPA", "kommunen", by=CORA, at=tick(meeting1))
    )
    minutes = apply_minutes(minutes, strike(minutes, "a1", "Dobbelt registrert", by=CORA, at=tick(minutes)))
    assert minutes.actions == ()
    assert [(c.kind, c.ref, c.reason) for c in minutes.changes[-2:]] == [
        ("action", "a1", None),
        ("struck", "a1", "Dobbelt registrert"),
    ]


def test_a_struck_reference_is_never_reused(meeting1: Minutes) -> None:
    minutes = apply_minutes(meeting1, add_note(meeting1, "Feil", by=CORA, at=tick(meeting1)))
    minutes = apply_minutes(minutes, strike(minutes, "n1", "Feil møte", by=CORA, at=tick(minutes)))
    assert add_note(minutes, "Riktig", by=CORA, at=tick(minutes)).ref == "n2"


def test_a_person_marked_present_by_mistake_can_be_struck(meeting1: Minutes) -> None:
    minutes = apply_minutes(meeting1, add_present(meeting1, [KARL, FRIDA], by=CORA, at=tick(meeting1)))
    minutes = apply_minutes(minutes, strike(minutes, FRIDA, "Meldte forfall", by=CORA, at=tick(minutes)))
    assert minutes.present == (KARL,)


def test_striking_an_unknown_reference_is_refused(meeting1: Minutes) -> None:
    minutes = apply_minutes(meeting1, add_note(meeting1, "Notat", by=CORA, at=tick(meeting1)))
    with pytest.raises(Refusal) as excinfo:
        strike(minutes, "d1", "Feil", by=CORA, at=T0)
    assert refusal_of(excinfo) == ("minutes.unknown_ref", {"ref": "d1", "refs": "n1"})


def test_striking_without_a_reason_is_refused(meeting1: Minutes) -> None:
    minutes = apply_minutes(meeting1, add_note(meeting1, "Notat", by=CORA, at=tick(meeting1)))
    with pytest.raises(Refusal) as excinfo:
        strike(minutes, "n1", " ", by=CORA, at=T0)
    assert refusal_of(excinfo) == ("minutes.reason_needed", {})


# --- closing and reopening ------------------------------------------------------------------


def test_closing_records_when_and_by_whom(meeting1: Minutes) -> None:
    minutes = closed(meeting1)
    assert (minutes.closed, minutes.closed_at, minutes.closed_by) == (True, tick(meeting1), CORA)


def test_closed_minutes_refuse_every_change(meeting1: Minutes, sthf: Pathway) -> None:
    minutes = apply_minutes(meeting1, add_note(meeting1, "Notat", by=CORA, at=tick(meeting1)))
    minutes = closed(minutes)
    attempts = [
        lambda: add_present(minutes, [KARL], by=CORA, at=T0),
        lambda: add_note(minutes, "Mer", by=CORA, at=T0),
        lambda: add_decision(minutes, "Vedtak", by=CORA, at=T0),
        lambda: assign_action(minutes, sthf, "Oppgave", "kommunen", by=CORA, at=T0),
        lambda: answer_topic(minutes, 1, "Svar", by=CORA, at=T0),
        lambda: strike(minutes, "n1", "Feil", by=CORA, at=T0),
        lambda: reschedule(minutes, START, by=CORA, at=T0),
    ]
    keys = []
    for attempt in attempts:
        with pytest.raises(Refusal) as excinfo:
            attempt()
        keys.append(refusal_of(excinfo))
    assert keys == [("minutes.closed", {})] * len(attempts)


def test_closing_twice_is_refused(meeting1: Minutes) -> None:
    with pytest.raises(Refusal) as excinfo:
        close(closed(meeting1), by=CORA, at=T0)
    assert refusal_of(excinfo) == ("minutes.already_closed", {})


def test_reopening_with_a_reason_unlocks_the_minutes(meeting1: Minutes) -> None:
    minutes = closed(meeting1)
    minutes = apply_minutes(minutes, reopen(minutes, "Glemte vedtak om BPA", by=KARL, at=tick(minutes)))
    minutes = apply_minutes(minutes, add_decision(minutes, "Kommunen søker om BPA", by=KARL, at=tick(minutes)))
    assert (minutes.closed, [d.text for d in minutes.decisions]) == (False, ["Kommunen søker om BPA"])


def test_a_reopening_is_recorded_with_its_reason(meeting1: Minutes) -> None:
    minutes = closed(meeting1)
    minutes = apply_minutes(minutes, reopen(minutes, "Glemte vedtak", by=KARL, at=tick(minutes)))
    last = minutes.changes[-1]
    assert (last.version, last.kind, last.by, last.reason, minutes.closed_at) == (
        3,
        "reopened",
        KARL,
        "Glemte vedtak",
        None,
    )


@pytest.mark.parametrize("reason", ["", "   "])
def test_reopening_without_a_reason_is_refused(meeting1: Minutes, reason: str) -> None:
    with pytest.raises(Refusal) as excinfo:
        reopen(closed(meeting1), reason, by=CORA, at=T0)
    assert refusal_of(excinfo) == ("minutes.reason_needed", {})


def test_reopening_open_minutes_is_refused(meeting1: Minutes) -> None:
    with pytest.raises(Refusal) as excinfo:
        reopen(meeting1, "Hvorfor ikke", by=CORA, at=T0)
    assert refusal_of(excinfo) == ("minutes.not_closed", {})


# --- versions and storage ---------------------------------------------------------------------


def test_each_change_bumps_the_version_by_one(meeting1: Minutes) -> None:
    minutes = apply_minutes(meeting1, add_note(meeting1, "Notat", by=CORA, at=tick(meeting1)))
    minutes = closed(minutes)
    assert [c.version for c in minutes.changes] == [1, 2, 3]


def test_a_change_that_does_not_follow_the_current_version_is_not_applied(meeting1: Minutes) -> None:
    stale = add_note(meeting1, "Notat", by=CORA, at=T0)
    minutes = apply_minutes(meeting1, stale)
    with pytest.raises(ValueError):
        apply_minutes(minutes, stale)


def test_folding_the_stored_changes_gives_the_same_minutes_in_any_order(meeting1: Minutes, sthf: Pathway) -> None:
    minutes = apply_minutes(meeting1, add_present(meeting1, [KARL], by=CORA, at=tick(meeting1)))
    minutes = apply_minutes(minutes, assign_action(minutes, sthf, "Søke", "kommunen", by=CORA, at=tick(minutes)))
    minutes = closed(minutes)
    assert fold_minutes(reversed(minutes.changes)) == minutes


def test_every_kind_of_change_survives_the_store_round_trip(meeting1: Minutes, sthf: Pathway) -> None:
    minutes = meeting1
    for make in [
        lambda m: reschedule(m, START + HOUR, 2 * HOUR, by=CORA, at=tick(m), reason="Rom opptatt"),
        lambda m: add_present(m, [KARL, FRIDA], by=CORA, at=tick(m)),
        lambda m: add_note(m, "Notat", by=CORA, at=tick(m)),
        lambda m: add_decision(m, "Vedtak", by=CORA, at=tick(m)),
        lambda m: assign_action(m, sthf, "Søke", "kommunen", by=CORA, at=tick(m), due=date(2026, 12, 17)),
        lambda m: answer_topic(m, 3, "Status", by=CORA, at=tick(m)),
        lambda m: strike(m, "n1", "Feil", by=CORA, at=tick(m)),
        lambda m: close(m, by=CORA, at=tick(m)),
        lambda m: reopen(m, "Glemt", by=CORA, at=tick(m)),
    ]:
        minutes = apply_minutes(minutes, make(minutes))
    records = [c.to_record() for c in minutes.changes]
    assert tuple(MinutesChange.from_record(r) for r in records) == minutes.changes
