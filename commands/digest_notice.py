"""A morning worklist whose time has come: decided by the care logic, queued and recorded in one transaction.

Exactly like a reminder: the row is read, the person's cases loaded in one query, the
care logic says whether it goes out (`care.desk.digest_firing`: on its own day, before
the evening) and what it says (`care.desk.worklist`); the message is queued in the
outbox and the row marked in the same transaction, so after a crash it is either queued
or not, never twice; the outbox's stable transaction id covers the sending. A worklist
with nothing to say is not sent (its row is marked `empty`). Then the person's next one
is planned.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from zoneinfo import ZoneInfo

from homeward.care.desk import digest_firing, language_of, worklist
from homeward.commands.care_room import NO_LANE
from homeward.commands.desk import DeskSpeaker, load_desk, plan_worklist, worklist_json, worklist_markdown
from homeward.render import alert_content, fit_content
from homeward.services import Services
from homeward.store import desk as desk_rows
from homeward.store import outbox
from homeward.store.cases import audit
from homeward.store.db import Store

log = logging.getLogger(__name__)

LATE_AFTER = timedelta(seconds=60)  # sent this much after its time: say it is late, and when it was planned


async def fire_digest(store: Store, services: Services, digest_id: int) -> bool:
    """Send one planned worklist if its time has come; True when a message was queued."""
    config = services.config
    now = services.clock.now()
    async with store.transaction() as db:
        row = await desk_rows.digest(db, digest_id)
        if row is None or row.status != "planned" or row.fire_at > now:
            return False
        person = await desk_rows.person(db, row.user_id)
        if person.direct_room is None or digest_firing(row, now, config.timezone) == "drop":
            await desk_rows.finish_digest(db, row.id, "dropped", now)
            await plan_worklist(db, services, row.user_id, now)
            log.info("digest=%d dropped (its day is over, or no direct chat)", row.id)
            return False
        summaries = await load_desk(db, services, row.user_id, now)
        found = worklist(summaries, now, config.timezone, config.quiet_days, row.user_id)
        if not found:
            await desk_rows.finish_digest(db, row.id, "empty", now)
            await plan_worklist(db, services, row.user_id, now)
            log.info("digest=%d nothing to say; not sent", row.id)
            return False
        late = now - row.planned_at > LATE_AFTER
        speaker = DeskSpeaker(services.catalog, language_of(summaries, config.language), ZoneInfo(config.timezone), now, services)
        content = alert_content(worklist_markdown(speaker, found, late_from=row.planned_at if late else None), [row.user_id])
        content["homeward.digest"] = worklist_json(found)
        content["homeward.digest_run"] = {"day": row.day.isoformat(), "planned_at": row.planned_at.isoformat(), "late": late,
                                          "cases_total": len(found.cases)}
        content["homeward.private_to"] = row.user_id  # the sender checks, when sending, that nobody else is in the chat
        content["encrypted_only"] = True  # and that the chat is end-to-end encrypted: the worklist names every case
        content = fit_content(content, speaker.t("digest.shortened"))  # one event, however many cases
        message = await outbox.enqueue(db, person.direct_room, "m.room.message", content, now)
        if not await desk_rows.finish_digest(db, row.id, "sent", now, message):
            raise RuntimeError("digest changed while firing")
        await audit(db, room_id=person.direct_room, actor=config.user_id, action="digest.sent", now=now, actor_lane=NO_LANE,
                    user=row.user_id, day=row.day.isoformat(), cases=[s.case_id for s in found.cases], late=late)
        await plan_worklist(db, services, row.user_id, now)
    log.info("room=%s digest=%d sent (late=%s)", person.direct_room, row.id, late)
    return True
