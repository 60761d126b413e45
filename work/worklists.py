"""The coordinator's desk as units of work: a person's cases loaded in one read, their morning
worklist scheduled, and sent when its time has come.

Where a worklist goes: the person's direct chat with the bot — the room the bot joined on
their invitation marked as direct, or the last room holding only them and the bot where
they wrote a command (`record_direct_chat`). Someone who never opened one gets no
worklist (nothing is scheduled for them) until they do.

A worklist whose time has come is decided by the care logic, queued and recorded in one transaction,

Exactly like a reminder: the row is read, the person's cases loaded in one query, the
care logic says whether it goes out (`care.worklist.digest_firing`: on its own day, before
the evening) and what it says (`care.worklist.worklist`); the message is queued in the
outbox and the row marked in the same transaction, so after a crash it is either queued
or not, never twice; the outbox's stable transaction id covers the sending. A worklist
with nothing to say is not sent (its row is marked `empty`). Then the person's next one
is scheduled.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from homeward.care.caseload import READING_ACTIONS, CaseSummary, coordinator_calendar, language_of, summarize
from homeward.care.retention import retention_due
from homeward.care.worklist import digest_firing, parse_digest_time, schedule_digest, worklist
from homeward.matrix.content import alert_content, fit_content
from homeward.messages.caseload import CaseloadSpeaker, worklist_json, worklist_markdown
from homeward.store import caseload as caseload_rows
from homeward.store import digests as digest_rows
from homeward.store import outbox
from homeward.store import people as people_rows
from homeward.store import retention as retention_rows
from homeward.store.cases import NO_LANE, audit, load_case
from homeward.store.db import Store
from homeward.store.sql import Connection
from homeward.work.services import Services

log = logging.getLogger(__name__)

LATE_AFTER = timedelta(seconds=60)  # sent this much after its time: say it is late, and when it was scheduled


async def fire_digest(store: Store, services: Services, digest_id: int) -> bool:
    """Send one scheduled worklist if its time has come; True when a message was queued."""
    config = services.config
    now = services.clock.now()
    async with store.transaction() as db:
        row = await digest_rows.digest(db, digest_id)
        if row is None or row.status != "planned" or row.fire_at > now:
            return False
        person = await people_rows.person(db, row.user_id)
        if person.direct_room is None or digest_firing(row, now, config.timezone) == "drop":
            await digest_rows.finish_digest(db, row.id, "dropped", now)
            await schedule_worklist(db, services, row.user_id, now)
            log.info("digest=%d dropped (its day is over, or no direct chat)", row.id)
            return False
        summaries = await load_caseload(db, services, row.user_id, now)
        found = worklist(summaries, now, config.timezone, config.quiet_days, row.user_id)
        if not found:
            await digest_rows.finish_digest(db, row.id, "empty", now)
            await schedule_worklist(db, services, row.user_id, now)
            log.info("digest=%d nothing to say; not sent", row.id)
            return False
        late = now - row.planned_at > LATE_AFTER
        speaker = caseload_speaker(services, language_of(summaries, config.language), now)
        content = alert_content(
            worklist_markdown(speaker, found, late_from=row.planned_at if late else None), [row.user_id]
        )
        content["homeward.digest"] = worklist_json(found)
        content["homeward.digest_run"] = {
            "day": row.day.isoformat(),
            "planned_at": row.planned_at.isoformat(),
            "late": late,
            "cases_total": len(found.cases),
        }
        content["homeward.private_to"] = row.user_id  # the sender checks, when sending, that nobody else is in the chat
        content["encrypted_only"] = True  # and that the chat is end-to-end encrypted: the worklist names every case
        content = fit_content(content, speaker.t("digest.shortened"))  # one event, however many cases
        message = await outbox.enqueue(db, person.direct_room, "m.room.message", content, now)
        if not await digest_rows.finish_digest(db, row.id, "sent", now, message):
            raise RuntimeError("digest changed while firing")
        await audit(
            db,
            room_id=person.direct_room,
            actor=config.user_id,
            action="digest.sent",
            now=now,
            actor_lane=NO_LANE,
            user=row.user_id,
            day=row.day.isoformat(),
            cases=[s.case_id for s in found.cases],
            late=late,
        )
        await schedule_worklist(db, services, row.user_id, now)
    log.info("room=%s digest=%d sent (late=%s)", person.direct_room, row.id, late)
    return True


def caseload_speaker(services: Services, language: str, now: datetime) -> CaseloadSpeaker:
    """Who writes a person's desk: in `language`, in the bot's time zone, at `now`."""
    config = services.config
    return CaseloadSpeaker(
        services.catalog, language, ZoneInfo(config.timezone), now, services.pathways, config.user_id.split(":", 1)[1]
    )


async def load_caseload(
    db: Connection,
    services: Services,
    user_id: str,
    now: datetime,
    *,
    closed: bool = False,
) -> list[CaseSummary]:
    """Every case on `user_id`'s desk, summarized: one read, then the care logic per case."""
    found = await caseload_rows.cases_of(
        db, user_id, services.pathways, bot_id=services.config.user_id, reading=READING_ACTIONS, closed=closed
    )
    return [
        summarize(
            c.loaded.view,
            case_id=c.loaded.case.id,
            room_id=c.loaded.case.room_id or "",
            answers=c.answers,
            last_activity=c.last_activity,
            member=c.member,
            now=now,
            zone=services.config.timezone,
            checklist_event=c.checklist_event,
        )
        for c in found
    ]


# -- a case as one line ------------------------------------------------------------------------


async def schedule_worklist(db: Connection, services: Services, user_id: str, now: datetime) -> None:
    """Bring `user_id`'s scheduled worklist in line with their setting, direct chat and open cases."""
    person = await people_rows.person(db, user_id)
    at = None
    if person.direct_room is not None:
        at = parse_digest_time(person.digest or services.config.digest_time)
    config = services.config
    calendars = [
        coordinator_calendar(pathway.country, config.timezone, pathway.language)
        for pathway_id in await caseload_rows.coordinated_pathways(db, user_id)
        if (pathway := services.pathways.get(pathway_id)) is not None
    ]
    today = now.astimezone(ZoneInfo(config.timezone)).date()
    rows = await digest_rows.rows_of(db, user_id, today - timedelta(days=1))
    changes = schedule_digest(at, calendars, rows, now)
    if changes:
        await digest_rows.apply_digest(db, user_id, changes)


async def record_direct_chat(db: Connection, services: Services, user_id: str, room_id: str, now: datetime) -> None:
    """`room_id` is now `user_id`'s direct chat with the bot: their worklist goes there."""
    if await people_rows.record_direct_room(db, user_id, room_id, now):
        await schedule_worklist(db, services, user_id, now)


async def schedule_everything(db: Connection, services: Services, now: datetime) -> None:
    """At start-up: every worklist and retention run as the configuration and the store say now
    (digest_time or retention_days may have changed while the bot was down)."""
    for user_id in await digest_rows.worklist_people(db):
        await schedule_worklist(db, services, user_id, now)
    for case_id in await retention_rows.closed_cases(db):
        loaded = await load_case(db, case_id, services.pathways)
        await retention_rows.schedule_retention(db, case_id, retention_due(loaded.view, services.config.retention_days))
