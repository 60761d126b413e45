"""When reminders fire: APScheduler wakes the bot at the next reminder's time; the store decides.

One scheduler job, always set to the earliest planned reminder. On start-up the job is
rebuilt from the store, and every reminder whose time passed while the bot was down goes
out at once, marked late with its original time. What a reminder says, and whether it
goes out now, is decided in its care room's unit of work (`commands.reminder_notice`).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from homeward.clock import Clock
from homeward.commands.reminder_notice import fire_reminder
from homeward.services import Services
from homeward.store import reminders as rows
from homeward.store.db import Store

log = logging.getLogger(__name__)

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
                        await fire_reminder(self.store, self.services, row.id)
                    except Exception:
                        log.exception("reminder=%d could not be fired; trying again in 30 s", row.id)
                        async with self.store.transaction() as db:
                            await rows.postpone(db, row.id, now + timedelta(seconds=30))
                self.services.wake_outbox()
        await self.rebuild()
