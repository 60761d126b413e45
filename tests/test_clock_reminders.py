"""A statutory clock reaching its limit is a reminder to the coordinators, like an overdue item.

Planned by `care.reminders.reconcile` as a row of kind `clock` (the clock's id where an
item's would be), fired once by the reminder scheduler through `work.reminders`,
in one transaction with its message; dropped when the clock stopped before its limit.
The running example: an Örebro case whose Utskrivningsklarmeddelande goes out on Monday
30 November 2026 at 10:00; the municipality pays from Thursday 3 December (00:00), and the
reminder goes out when the quiet hours end, at 08:00.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import homeward.commands.handlers  # noqa: F401  (registers every command)
from homeward.care.case import Ack, CaseView, ItemRecord, Membership
from homeward.care.pathway import Pathway
from homeward.care.reminders import CLOCK, ScheduledReminder, reconcile
from homeward.commands.context import IncomingCommand
from homeward.commands.dispatch import handle_command
from homeward.store import cases, outbox
from homeward.store import reminders as rows
from homeward.store.db import Store
from homeward.store.state import remember_room
from homeward.work.care_room import CareRoom
from homeward.work.scheduler import ReminderScheduler
from homeward.work.services import Services
from tests.clock import FakeClock
from tests.stores import open_store
from tests.unit import shipped_pathways, unit_services

STOCKHOLM = ZoneInfo("Europe/Stockholm")
OSLO = ZoneInfo("Europe/Oslo")
UTC = UTC
CORA, KARL = "@cora:x", "@karl:x"


def se(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=STOCKHOLM)


SENT = se(2026, 11, 30, 10)  # Monday
LIMIT = se(2026, 12, 3, 0, 0)  # Thursday: the municipality pays from today
TOLD = se(2026, 12, 3, 8, 0)  # when the quiet hours end


def view_of(pathway: Pathway) -> CaseView:
    members = {
        CORA: Membership(CORA, None, True),
        KARL: Membership(KARL, "kommun" if pathway.id == "orebro" else "kommunen", False),
    }
    return CaseView(
        pathway=pathway, label="Måsen", phase_id=pathway.phases[1].id, dates={}, members=members, records={}
    )


def clock_adds(
    view: CaseView, existing: list[ScheduledReminder], now: datetime, **kw
) -> list[tuple[str, datetime, datetime]]:
    changes = reconcile(view, existing, None, now, **kw)
    return [(w.item_id, w.due, w.planned_at) for w in changes.add if w.kind == CLOCK]


def test_no_clock_reminder_before_the_clock_starts(pathways: dict[str, Pathway]) -> None:
    assert clock_adds(view_of(pathways["orebro"]), [], se(2026, 11, 30, 9)) == []


def test_the_limit_is_planned_when_the_notice_goes_out_and_told_when_quiet_hours_end(
    pathways: dict[str, Pathway],
) -> None:
    view = view_of(pathways["orebro"])
    view.records["utskrivningsklarmeddelande"] = ItemRecord(sent_at=SENT)
    assert clock_adds(view, [], SENT) == [("betalningsansvar", LIMIT.astimezone(UTC), TOLD.astimezone(UTC))]


def test_a_limit_already_passed_when_the_clock_becomes_known_is_still_told_once(pathways: dict[str, Pathway]) -> None:
    view = view_of(pathways["sthf"])
    view.dates["ready_for_discharge"] = date(2026, 12, 1)  # set a week late
    [(clock, due, planned)] = clock_adds(view, [], datetime(2026, 12, 8, 11, tzinfo=OSLO))
    assert clock == "betalingsplikt" and due == datetime(2026, 12, 1, 0, 0, tzinfo=OSLO)
    assert planned == datetime(2026, 12, 1, 8, 0, tzinfo=OSLO)  # in the past: goes out at once


def test_a_clock_reminder_that_went_out_is_not_wanted_again(pathways: dict[str, Pathway]) -> None:
    view = view_of(pathways["orebro"])
    view.records["utskrivningsklarmeddelande"] = ItemRecord(sent_at=SENT)
    sent = ScheduledReminder(
        1, 1, "betalningsansvar", CLOCK, 0, LIMIT.astimezone(UTC), TOLD.astimezone(UTC), TOLD.astimezone(UTC), "sent"
    )
    assert clock_adds(view, [sent], se(2026, 12, 4, 9)) == []


def test_a_clock_stopped_before_its_limit_cancels_its_reminder(pathways: dict[str, Pathway]) -> None:
    view = view_of(pathways["orebro"])
    view.records["utskrivningsklarmeddelande"] = ItemRecord(sent_at=SENT)
    view.records["hemgang"] = ItemRecord(acks=[Ack("patient", "@p:x", se(2026, 12, 2, 14))])
    planned = ScheduledReminder(
        7, 1, "betalningsansvar", CLOCK, 0, LIMIT.astimezone(UTC), TOLD.astimezone(UTC), TOLD.astimezone(UTC), "planned"
    )
    changes = reconcile(view, [planned], None, se(2026, 12, 2, 15))
    assert changes.cancel == [7] and not [w for w in changes.add if w.kind == CLOCK]


def test_a_closed_case_wants_no_clock_reminder(pathways: dict[str, Pathway]) -> None:
    view = view_of(pathways["orebro"])
    view.records["utskrivningsklarmeddelande"] = ItemRecord(sent_at=SENT)
    assert clock_adds(view, [], se(2026, 12, 1, 9), closed_at=se(2026, 12, 1, 8)) == []


def test_a_ready_date_ahead_plans_the_norwegian_reminder_for_that_morning(pathways: dict[str, Pathway]) -> None:
    view = view_of(pathways["sthf"])
    view.dates["ready_for_discharge"] = date(2026, 12, 10)  # a Thursday
    [(_, due, planned)] = clock_adds(view, [], datetime(2026, 12, 7, 9, tzinfo=OSLO))
    assert (due, planned) == (datetime(2026, 12, 10, 0, 0, tzinfo=OSLO), datetime(2026, 12, 10, 8, 0, tzinfo=OSLO))


# --- on a real store, fired by the scheduler ------------------------------------------------------
async def _orebro_case(tmp_path: Path, clock: FakeClock) -> tuple[Store, Services, int]:
    pathways = shipped_pathways()
    store = await open_store(tmp_path / "s.sqlite3")
    services = unit_services(clock, pathways=pathways, user_id="@b:x")
    async with store.transaction() as db:
        await remember_room(db, "!r:x", "case", "sv", clock.now())
        case_id = await cases.open_case(
            db,
            pathway_id="orebro",
            label="Masen",
            phase_id="planering",
            opened_by=CORA,
            opened_in="!d:x",
            create_outbox=1,
            now=clock.now(),
        )
        await cases.bind_room(db, 1, "!r:x")
        await cases.put_member(db, case_id, CORA, None, True, CORA, clock.now())
        await cases.put_member(db, case_id, KARL, "kommun", False, CORA, clock.now())
        await cases.mark_sent(db, case_id, "utskrivningsklarmeddelande", CORA, SENT, 0)
        room = await CareRoom.of_case(db, services, case_id, actor=CORA, event_id=None, now=clock.now())
        await room.reschedule_reminders()
    return store, services, case_id


async def _tick(store: Store, services: Services, clock: FakeClock) -> None:
    scheduler = ReminderScheduler(store, services, clock)
    scheduler.scheduler.start()
    await scheduler.tick()
    scheduler.stop()


async def test_the_coordinators_are_told_once_that_the_municipality_now_pays(tmp_path: Path) -> None:
    clock = FakeClock(SENT)
    store, services, case_id = await _orebro_case(tmp_path, clock)
    try:
        clock.set(se(2026, 12, 3, 8, 0, 30))
        await _tick(store, services, clock)
        await _tick(store, services, clock)  # again: nothing more
        async with store.read() as db:
            told = [r for r in await outbox.pending(db) if "clock" in r.content.get("homeward.reminder", {})]
            async with db.execute("SELECT status FROM reminders WHERE kind = 'clock'") as cur:
                statuses = [r["status"] for r in await cur.fetchall()]
            planned_again = [r for r in await rows.scheduled_for_case(db, case_id) if r.kind == CLOCK]
    finally:
        await store.close()
    assert statuses == ["sent"] and planned_again == []
    assert len(told) == 1
    content = told[0].content
    assert content["homeward.reminder"]["clock"] == "betalningsansvar" and content["homeward.reminder"]["days"] == 3
    assert content["m.mentions"] == {"user_ids": [CORA]}  # the coordinators, not the lane
    assert content["msgtype"] == "m.text"  # an m.text: an m.notice would notify nobody (render.alert_content)
    assert "Kommunens betalningsansvar" in content["body"] and "3 dagar" in content["body"]


async def test_a_clock_stopped_before_its_limit_tells_nobody(tmp_path: Path) -> None:
    clock = FakeClock(SENT)
    store, services, case_id = await _orebro_case(tmp_path, clock)
    try:
        async with store.transaction() as db:
            await cases.mark_sent(db, case_id, "utskrivningsmeddelande", CORA, se(2026, 12, 2, 11), 0)
            room = await CareRoom.of_case(db, services, case_id, actor=CORA, event_id=None, now=se(2026, 12, 2, 11))
            await room.reschedule_reminders()
        clock.set(se(2026, 12, 3, 9))
        await _tick(store, services, clock)
        async with store.read() as db:
            async with db.execute("SELECT status FROM reminders WHERE kind = 'clock'") as cur:
                statuses = [r["status"] for r in await cur.fetchall()]
            told = [r for r in await outbox.pending(db) if "clock" in r.content.get("homeward.reminder", {})]
    finally:
        await store.close()
    assert statuses == ["cancelled"] and told == []


async def test_the_planned_clock_reminder_is_listed_by_its_label(tmp_path: Path) -> None:
    clock = FakeClock(SENT)
    store, services, _ = await _orebro_case(tmp_path, clock)
    try:
        await handle_command(
            IncomingCommand(
                room_id="!r:x",
                event_id="$r1",
                sender=CORA,
                body="!reminders",
                timestamp_ms=0,
                encrypted=True,
                room_encrypted=True,
            ),
            store,
            services,
        )
        async with store.read() as db:
            answer = next(r for r in await outbox.pending(db) if r.content.get("homeward.command") == "reminders")
    finally:
        await store.close()
    assert answer.content["homeward.status"] == "ok", answer.content["body"]
    assert {
        "item": "betalningsansvar",
        "kind": "clock",
        "sequence": 0,
        "at": TOLD.astimezone(UTC).isoformat(),
    } in answer.content["homeward.reminders"]
    assert "Kommunens betalningsansvar" in answer.content["body"]


async def test_status_shows_the_running_clock_and_the_case_data_carries_it(tmp_path: Path) -> None:
    clock = FakeClock(se(2026, 12, 4, 9))
    store, services, _ = await _orebro_case(tmp_path, clock)
    try:
        await handle_command(
            IncomingCommand(
                room_id="!r:x",
                event_id="$s1",
                sender=KARL,
                body="!status",
                timestamp_ms=0,
                encrypted=True,
                room_encrypted=True,
            ),
            store,
            services,
        )
        async with store.read() as db:
            answer = next(r for r in await outbox.pending(db) if r.content.get("homeward.command") == "status")
    finally:
        await store.close()
    assert "Kommunens betalningsansvar**: dag 4 sedan 2026-11-30 10:00" in answer.content["body"]
    [shown] = answer.content["homeward.case"]["clocks"]
    assert (shown["id"], shown["days"], shown["reached"], shown["stopped_at"]) == ("betalningsansvar", 4, True, None)
    assert datetime.fromisoformat(shown["started_at"]) == SENT
