"""Reminder rows and the scheduler, on a real store with a fake clock (no homeserver)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from homeward.store import cases
from homeward.store import reminders as rows
from homeward.work.care_room import CareRoom
from homeward.work.scheduler import ReminderScheduler
from tests.clock import FakeClock
from tests.stores import open_store
from tests.unit import shipped_pathways, unit_services

SE = ZoneInfo("Europe/Stockholm")


async def test_reminders_missed_while_the_bot_was_down_all_go_out_late_once(tmp_path: Path) -> None:
    pathways = shipped_pathways()
    clock = FakeClock(datetime(2026, 11, 30, 9, 0, tzinfo=SE))
    store = await open_store(tmp_path / "s.sqlite3")
    services = unit_services(clock, pathways=pathways, user_id="@b:x")
    async with store.transaction() as db:
        case_id = await cases.open_case(
            db,
            pathway_id="orebro",
            label="X",
            phase_id="identifiering",
            opened_by="@a:x",
            opened_in="!l:x",
            create_outbox=1,
            now=clock.now(),
        )
        await cases.bind_room(db, 1, "!r:x")
        await cases.put_member(db, case_id, "@a:x", "slutenvard", True, "@a:x", clock.now())
        await cases.put_date(db, case_id, "admission", datetime(2026, 11, 30, 10, 0, tzinfo=SE), "@a:x", clock.now())
        room = await CareRoom.of_case(db, services, case_id, actor="@a:x", event_id=None, now=clock.now())
        await room.reschedule_reminders()
    async with store.read() as db:
        planned = [(r.kind, r.sequence) for r in await rows.scheduled_for_case(db, case_id)]
    assert planned == [("before", 0), ("due", 0), ("overdue", 1)]

    clock.set(datetime(2026, 12, 2, 11, 0, tzinfo=SE))  # the bot was down Mon 09:00 – Wed 11:00
    scheduler = ReminderScheduler(store, services, clock)
    scheduler.scheduler.start()
    await scheduler.tick()
    scheduler.stop()
    async with store.read() as db, db.execute("SELECT kind, sequence, status FROM reminders ORDER BY id") as cur:
        result = [tuple(r) for r in await cur.fetchall()]
    await store.close()
    assert result == [("before", 0, "sent"), ("due", 0, "sent"), ("overdue", 1, "sent"), ("overdue", 2, "planned")]
