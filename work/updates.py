"""The family's regular update going out: decided by the care logic, written and recorded in its care room.

Each update row is fired in its own transaction, one unit of work of its care room: the message
is queued and the row marked sent together, so after a crash it is either queued or not, never
twice; the next one is planned in the same transaction (`CareRoom.reschedule_family_update`).
An update whose case has closed, lost its family or been turned off is dropped instead.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from homeward.care.caseload import READING_ACTIONS
from homeward.care.updates import FAMILY_ROLES
from homeward.matrix.content import alert_content
from homeward.messages.family import family_members, update_markdown
from homeward.store import consents
from homeward.store import updates as rows
from homeward.store.db import Store
from homeward.work.care_room import CareRoom
from homeward.work.services import Services

log = logging.getLogger(__name__)

ROOM_NOT_READY = timedelta(seconds=5)  # the case's room is still being created: try again shortly
LATE_AFTER = timedelta(minutes=5)


async def fire_family_update(store: Store, services: Services, update_id: int) -> bool:
    """Send one planned update to the family if its time has come; True when a message was queued."""
    now = services.clock.now()
    async with store.transaction() as db:
        row = await rows.get(db, update_id)
        if row is None or row.status != "planned" or row.fire_at > now:
            return False
        room = await CareRoom.of_case(db, services, row.case_id, actor=services.config.user_id, event_id=None, now=now)
        if room.case.room_id is None:
            await rows.postpone_update(db, row.id, now + ROOM_NOT_READY)
            return False
        view = room.view
        people = family_members(view)
        every = await rows.every(db, row.case_id)
        if view.closed or not people or every is None:
            await rows.finish_update(db, row.id, "dropped", now)
            await room.reschedule_family_update()
            log.info("room=%s update=%d dropped (closed, no family, or off)", room.room_id, row.id)
            return False
        last = await rows.last_sent(db, row.case_id)
        since = last.planned_at if last else row.anchor
        done_since = await rows.activity_since(db, row.case_id, since, services.config.user_id, READING_ACTIONS)
        answers = await consents.answers(db, row.case_id)
        text = update_markdown(room, view, people, answers, done_since=done_since, every=every)
        content = alert_content(text, people)
        late = now - row.planned_at > LATE_AFTER
        content["homeward.family_update"] = {"planned_at": row.planned_at.isoformat(), "late": late, "every": every}
        message = await room.queue(content)
        if not await rows.finish_update(db, row.id, "sent", now, message):
            raise RuntimeError("family update changed while firing")
        await room.audit("family.updated", planned_at=row.planned_at.isoformat(), late=late, activity=done_since)
        await room.reschedule_family_update()
    log.info("room=%s update=%d sent", room.room_id, row.id)
    return True


async def plan_missing_updates(store: Store, services: Services) -> int:
    """At start-up: plan the update of every open case with family on its team that has none; how many."""
    lanes = [
        f"{pathway.id}/{lane.id}"
        for pathway in services.pathways.values()
        for lane in pathway.lanes
        if lane.role in FAMILY_ROLES
    ]
    async with store.read() as db:
        found = await rows.cases_without_update(db, lanes)
    for case_id in found:
        async with store.transaction() as db:
            room = await CareRoom.of_case(
                db, services, case_id, actor=services.config.user_id, event_id=None, now=services.clock.now()
            )
            await room.reschedule_family_update()
    return len(found)
