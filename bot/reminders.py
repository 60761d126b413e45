"""Firing reminders: APScheduler wakes the bot at the next reminder's time; the store decides.

One scheduler job, always set to the earliest planned reminder. On start-up the job is
rebuilt from the store, and every reminder whose time passed while the bot was down goes
out at once, marked late with its original time. Each reminder is fired in its own
transaction that queues the message and marks the row sent: after a crash it is either
queued or not, never twice; the outbox's stable transaction id covers the sending.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from homeward.care.case import missing_lanes
from homeward.care.reminders import audience_lanes, how_to, quiet_hours, recipients
from homeward.commands.care_room import local_text
from homeward.clock import Clock
from homeward.render import notice_content
from homeward.services import Services
from homeward.store import cases, outbox
from homeward.store import reminders as rows
from homeward.store.db import Store
from homeward.text import mentions

log = logging.getLogger(__name__)

LATE_AFTER = timedelta(seconds=60)  # fired this much after its time: say it is late, and when it was due
JOB_ID = "next-reminder"


class ReminderScheduler:
    def __init__(self, store: Store, services: Services, clock: Clock) -> None:
        self.store = store
        self.services = services
        self.clock = clock
        self.scheduler = AsyncIOScheduler(timezone=timezone.utc)
        self._lock = asyncio.Lock()
        self._pending_wake: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.scheduler.start()
        await self.rebuild()

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def wake(self) -> None:
        """Something changed (a command, a clock jump): re-aim the job at the earliest reminder."""
        if self._pending_wake is None or self._pending_wake.done():
            self._pending_wake = asyncio.get_running_loop().create_task(self.rebuild())

    async def rebuild(self) -> None:
        """Point the one job at the earliest planned reminder; fire at once what is already due."""
        async with self.store.read() as db:
            earliest = await rows.next_fire_at(db)
        if earliest is None:
            if self.scheduler.get_job(JOB_ID):
                self.scheduler.remove_job(JOB_ID)
            return
        delay = (earliest - self.clock.now()).total_seconds()
        run_at = datetime.now(timezone.utc) + timedelta(seconds=max(delay, 0))
        self.scheduler.add_job(
            self.tick, DateTrigger(run_date=run_at), id=JOB_ID, replace_existing=True,
            misfire_grace_time=None, coalesce=True,
        )

    async def tick(self) -> None:
        """Fire every reminder whose time has come, then aim at the next one."""
        async with self._lock:
            while True:
                now = self.clock.now()
                async with self.store.read() as db:
                    due = await rows.due_rows(db, now)
                if not due:
                    break
                for row in due:
                    try:
                        await self.fire(row.id)
                    except Exception:
                        log.exception("reminder=%d could not be fired; trying again in 30 s", row.id)
                        async with self.store.transaction() as db:
                            await rows.postpone(db, row.id, now + timedelta(seconds=30))
                self.services.wake_outbox()
        await self.rebuild()

    async def fire(self, reminder_id: int) -> None:
        now = self.clock.now()
        async with self.store.transaction() as db:
            row = await rows.get(db, reminder_id)
            if row is None or row.status != "planned" or row.fire_at > now:
                return
            case = await cases.case_by_id(db, row.case_id)
            if case.room_id is None:
                await rows.postpone(db, row.id, now + timedelta(seconds=5))  # room not created yet
                return
            pathway = self.services.pathways[case.pathway_id]
            view = await cases.load_view(db, case, pathway)
            item = view.item(row.item_id)
            if not missing_lanes(view, item):
                await rows.cancel(db, row.id)
                return
            quiet = quiet_hours(await rows.quiet_setting(db, case.id))
            allowed = quiet.next_allowed(now, view.calendar())
            if allowed > now:  # e.g. missed during the night while the bot was down: wait for the morning
                await rows.postpone(db, row.id, allowed)
                return
            snoozed = await rows.snoozed_until(db, case.id, item.id)
            lanes = audience_lanes(view, item)
            later = [snoozed[lane] for lane in lanes if lane in snoozed and snoozed[lane] > now]
            if lanes and len(later) == len(lanes):
                await rows.postpone(db, row.id, min(later))
                return
            content = self._message(row, view, item, now)
            message = await outbox.enqueue(db, case.room_id, "m.room.message", content, now)
            if not await rows.mark_fired(db, row.id, now, message):
                raise RuntimeError("reminder changed while firing")
            await cases.audit(
                db, room_id=case.room_id, actor=self.services.config.user_id, action="reminder.sent", now=now,
                case_id=case.id, item=item.id, kind=row.kind, sequence=row.sequence,
                planned_at=row.planned_at.isoformat(), late=now - row.planned_at > LATE_AFTER,
            )
            await rows.replan(db, case.id, pathway, now)
        log.info("room=%s reminder=%d item=%s kind=%s fired", case.room_id, row.id, row.item_id, row.kind)

    def _message(self, row: rows.ReminderRow, view, item, now: datetime) -> dict:  # noqa: ANN001
        pathway = view.pathway
        language = pathway.language
        t = self.services.catalog.t
        people = recipients(view, item, row.kind if row.kind != "custom" else "due")
        if row.kind == "custom" and row.requested_by:
            people = sorted({*people, row.requested_by})
        how_key, command = how_to(view, item)
        when = local_text(row.due, pathway) if row.due else local_text(row.planned_at, pathway)
        text = t(
            language, f"reminder.{row.kind}",
            people=mentions(people), title=item.title, id=item.id, when=when,
        )
        text += " " + t(language, how_key, command=command)
        late = now - row.planned_at > LATE_AFTER
        if late:
            text += "\n\n" + t(language, "reminder.late", planned=local_text(row.planned_at, pathway))
        content = notice_content(text)
        content["m.mentions"] = {"user_ids": people}
        content["homeward.reminder"] = {
            "item": item.id, "kind": row.kind, "sequence": row.sequence, "planned_at": row.planned_at.isoformat(),
            "due": row.due.isoformat() if row.due else None, "late": late,
        }
        return content
