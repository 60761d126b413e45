"""When reminders fire: APScheduler wakes the bot at the next reminder's time; the store decides.

One scheduler job, always set to the earliest scheduled row of the four things that go out
later: reminders, morning worklists (digests), retention runs and the family's updates. On start-up every
worklist and retention run is scheduled from the store and the configuration, the job is
rebuilt, and every row whose time passed while the bot was down goes out at once, marked
late with its original time. What each says, and whether it goes out now, is decided in
its unit of work (`work.reminders`, `work.worklists`, `work.retention`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from homeward.clock import Clock
from homeward.store import digests as digest_rows
from homeward.store import reminders as rows
from homeward.store import retention as retention_rows
from homeward.store import updates as update_rows
from homeward.store.db import Store
from homeward.store.sql import Connection
from homeward.work.reminders import fire_reminder
from homeward.work.retention import run_retention
from homeward.work.services import Services
from homeward.work.updates import fire_family_update, plan_missing_updates
from homeward.work.worklists import fire_digest, schedule_everything

log = logging.getLogger(__name__)

JOB_ID = "next-reminder"
#: Fires one scheduled row (a reminder, a worklist, a retention run) in its own transaction.
Fire = Callable[[Store, Services, int], Awaitable[bool]]
#: Moves a scheduled row's time (after a failure).
Postpone = Callable[[Connection, int, datetime], Awaitable[None]]


class ReminderScheduler:
    def __init__(self, store: Store, services: Services, clock: Clock) -> None:
        self.store = store
        self.services = services
        self.clock = clock
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self._lock = asyncio.Lock()
        self._pending_wake: asyncio.Task[None] | None = None

    async def start(self) -> None:
        async with self.store.transaction() as db:
            await schedule_everything(db, self.services, self.clock.now())
        await plan_missing_updates(self.store, self.services)
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
        """Point the one job at the earliest scheduled reminder; fire at once what is already due."""
        async with self.store.read() as db:
            scheduled = [
                await rows.next_fire_at(db),
                await digest_rows.next_digest_at(db),
                await retention_rows.next_retention_at(db),
                await update_rows.next_update_at(db),
            ]
        earliest = min((at for at in scheduled if at is not None), default=None)
        if earliest is None:
            if self.scheduler.get_job(JOB_ID):
                self.scheduler.remove_job(JOB_ID)
            return
        delay = (earliest - self.clock.now()).total_seconds()
        run_at = datetime.now(UTC) + timedelta(seconds=max(delay, 0))
        self.scheduler.add_job(
            self.tick,
            DateTrigger(run_date=run_at),
            id=JOB_ID,
            replace_existing=True,
            misfire_grace_time=None,
            coalesce=True,
        )

    async def tick(self) -> None:
        """Fire every reminder, worklist and retention run whose time has come, then aim at the next one."""
        async with self._lock:
            while True:
                now = self.clock.now()
                async with self.store.read() as db:
                    due = await rows.due_rows(db, now)
                    digests = await digest_rows.due_digests(db, now)
                    runs = await retention_rows.due_retention(db, now)
                    updates = await update_rows.due_updates(db, now)
                if not (due or digests or runs or updates):
                    break
                for row in due:
                    await self._fire("reminder", row.id, fire_reminder, rows.postpone, now)
                for digest in digests:
                    await self._fire("digest", digest.id, fire_digest, digest_rows.postpone_digest, now)
                for run in runs:
                    await self._fire("retention", run.id, run_retention, retention_rows.postpone_retention, now)
                for update in updates:
                    await self._fire("update", update.id, fire_family_update, update_rows.postpone_update, now)
                self.services.wake_outbox()
        await self.rebuild()

    async def _fire(self, what: str, row_id: int, fire: Fire, postpone: Postpone, now: datetime) -> None:
        """Fire one row in its own transaction; one that fails is tried again in 30 s, the others go on."""
        try:
            await fire(self.store, self.services, row_id)
        except Exception:
            log.exception("%s=%d could not be fired; trying again in 30 s", what, row_id)
            async with self.store.transaction() as db:
                await postpone(db, row_id, now + timedelta(seconds=30))
