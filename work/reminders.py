"""A reminder whose time has come: decided by the care logic, written and recorded in its care room.

Each reminder is fired in its own transaction, one unit of work of its care room: the
care logic (`care.reminders.firing`) says whether it goes out now, waits (quiet hours,
every lane snoozed it) or is dropped (the item was done); the message is queued in the
outbox and the row marked sent together, so after a crash it is either queued or not,
never twice. The outbox's stable transaction id covers the sending.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from homeward.care.clocks import read_clock
from homeward.care.delays import lanes_to_ask
from homeward.care.pathway import Item
from homeward.care.reminders import (
    CLOCK,
    Firing,
    ScheduledReminder,
    audience_lanes,
    clock_firing,
    firing,
    how_to,
    recipients,
)
from homeward.matrix.content import (
    MENTION_MAX_CHARS,
    alert_content,
    details_content,
    notice_content,
    shown_length,
)
from homeward.messages.speaker import local_text
from homeward.store import delays
from homeward.store import reminders as rows
from homeward.store.db import Store
from homeward.text import Markdown, code, escape, mentions
from homeward.work.care_room import CareRoom, closed_at
from homeward.work.services import Services

log = logging.getLogger(__name__)

LATE_AFTER = timedelta(seconds=60)  # fired this much after its time: say it is late, and when it was due
ROOM_NOT_READY = timedelta(seconds=5)  # the case's room is still being created: try again shortly


async def fire_reminder(store: Store, services: Services, reminder_id: int) -> bool:
    """Fire one scheduled reminder if its time has come; True when a message was queued."""
    now = services.clock.now()
    async with store.transaction() as db:
        row = await rows.get(db, reminder_id)
        if row is None or row.status != "planned" or row.fire_at > now:
            return False
        room = await CareRoom.of_case(db, services, row.case_id, actor=services.config.user_id, event_id=None, now=now)
        if room.case.room_id is None:
            await rows.postpone(db, row.id, now + ROOM_NOT_READY)
            return False
        if row.kind == CLOCK:
            return await _fire_clock(db, room, row, now)
        item = room.view.item(row.item_id)
        decision = firing(room.view, item, room.case.quiet, await rows.snoozed_until(db, room.case.id, item.id), now)
        if not await _goes_out(db, row, decision):
            return False
        late = now - row.planned_at > LATE_AFTER
        ask: list[str] = []
        if row.kind == "overdue":  # an overdue reminder asks the late lanes why (care.delays: nobody twice a day)
            ask = lanes_to_ask(
                room.view, item, audience_lanes(room.view, item), await delays.asks(db, room.case.id), now
            )
        message = await room.queue(reminder_content(room, row, item, late, ask))
        if ask:
            await room.queue(reminder_details_content(room, item))
        if not await rows.mark_fired(db, row.id, now, message):
            raise RuntimeError("reminder changed while firing")
        for lane in ask:
            await delays.add_ask(db, room.case.id, item.id, lane, now, message)
        await room.audit(
            "reminder.sent",
            item=item.id,
            kind=row.kind,
            sequence=row.sequence,
            planned_at=row.planned_at.isoformat(),
            late=late,
            **({"asked": ask} if ask else {}),
        )
        await room.reschedule_reminders()  # an overdue repeat schedules the next one
    log.info("room=%s reminder=%d item=%s kind=%s fired", room.room_id, row.id, row.item_id, row.kind)
    return True


async def _goes_out(db: Any, row: ScheduledReminder, decision: Firing) -> bool:
    """Carry out a decision not to send now (drop the row, or move it to when it may go); True to send."""
    if decision.action == "cancel":
        await rows.cancel(db, row.id)
        return False
    if decision.action == "postpone":
        assert decision.until is not None
        await rows.postpone(db, row.id, decision.until)
        return False
    return True


async def _fire_clock(db: Any, room: CareRoom, row: ScheduledReminder, now: Any) -> bool:
    """A statutory clock reached its limit: tell the coordinators once (in the reminder's transaction)."""
    decision = clock_firing(room.view, row.item_id, room.case.quiet, now, closed_at=closed_at(room.case))
    if not await _goes_out(db, row, decision):
        return False
    late = now - row.planned_at > LATE_AFTER
    message = await room.queue(clock_reminder_content(room, row, late))
    if not await rows.mark_fired(db, row.id, now, message):
        raise RuntimeError("reminder changed while firing")
    await room.audit(
        "reminder.sent",
        clock=row.item_id,
        kind=row.kind,
        sequence=row.sequence,
        planned_at=row.planned_at.isoformat(),
        late=late,
    )
    log.info("room=%s reminder=%d clock=%s kind=%s fired", room.room_id, row.id, row.item_id, row.kind)
    return True


def clock_reminder_content(room: CareRoom, row: ScheduledReminder, late: bool) -> dict[str, Any]:
    """The coordinators are told that a clock reached its limit, since when it runs, and where to see it."""
    view, pathway = room.view, room.view.pathway
    clock = pathway.clock(row.item_id)
    reading = read_clock(view, clock, room.now, closed_at=closed_at(room.case))
    people = view.coordinators()
    text = room.t(
        "reminder.clock",
        people=mentions(people),
        label=clock.label,
        limit=room.t("time.days", n=clock.limit),
        start=local_text(reading.started_at, pathway),
        when=local_text(row.due or row.planned_at, pathway),
    )
    content = alert_content(text, people)
    content["homeward.reminder"] = {
        # "item" is what every reminder is about (here the clock, whose id the row holds), as integrations expect.
        "item": clock.id,
        "clock": clock.id,
        "kind": row.kind,
        "sequence": row.sequence,
        "planned_at": row.planned_at.isoformat(),
        "due": row.due.isoformat() if row.due else None,
        "late": late,
        "days": reading.days,
    }
    return content


def _empty_lanes(room: CareRoom, item: Item) -> Markdown:
    """The lanes a reminder is for when nobody is in them: "**Öppenvård** (ingen än)"."""
    pathway = room.view.pathway
    names = ", ".join(f"**{escape(pathway.lane(lane).name)}**" for lane in audience_lanes(room.view, item))
    return Markdown(f"{names or '—'} ({room.t('checklist.nobody_yet')})")


def reminder_content(
    room: CareRoom, row: ScheduledReminder, item: Item, late: bool, ask: list[str] | None = None
) -> dict[str, Any]:
    """The reminder as the room reads it: who it is for (mentioned), what is due when, and the one command to use;
    for an overdue item, the question why to the lanes in `ask` (answered by a one-word reply to it)."""
    view, pathway = room.view, room.view.pathway
    people = recipients(view, item, row.kind if row.kind != "custom" else "due")
    if row.kind == "custom" and row.requested_by and row.requested_by in view.members:
        people = sorted({*people, row.requested_by})
    how_key, command = how_to(view, item)
    when = local_text(row.due or row.planned_at, pathway)
    # Nobody to name (the lane is empty): the lanes it is for, said to be empty; the room is not woken for it.
    who = mentions(people) if people else _empty_lanes(room, item)
    text: str = room.t(
        f"reminder.{row.kind}",
        people=who,
        title=item.title,
        when=when,
    )
    text += " " + room.t(how_key, command=command)
    late_note = "\n\n" + room.t("reminder.late", planned=local_text(row.planned_at, pathway)) if late else ""

    def made(words: list[str], more: bool) -> dict[str, Any]:
        full = text
        if ask:
            listed = ", ".join([*(code(word) for word in words), *(["…"] if more else [])])
            lanes = ", ".join(pathway.lane(lane).name for lane in ask)
            full += "\n\n" + room.t("delay.ask", lanes=lanes, words=Markdown(listed))
        full += late_note
        return alert_content(full, people) if people else notice_content(full)

    # The question stays in the message replied to (`store.delays.ask_for_event`), with as many of the
    # pathway's words as fit a phone screen (`MENTION_MAX_CHARS`); all of them follow, naming nobody
    # (`reminder_details_content`).
    words = [reason.id for reason in pathway.delay_reasons]
    content = made(words, False)
    shown = len(words)
    while ask and people and shown > 0 and shown_length(content) > MENTION_MAX_CHARS:
        shown -= 1
        content = made(words[:shown], True)
    content["homeward.reminder"] = {
        "item": item.id,
        "kind": row.kind,
        "sequence": row.sequence,
        "planned_at": row.planned_at.isoformat(),
        "due": row.due.isoformat() if row.due else None,
        "late": late,
    }
    if ask:
        content["homeward.reminder"]["asks"] = {
            "lanes": list(ask),
            "reasons": [{"id": r.id, "code": r.code} for r in pathway.delay_reasons],
        }
    return content


def reminder_details_content(room: CareRoom, item: Item) -> dict[str, Any]:
    """After an overdue reminder that asks why: the pathway's words for a delay, naming nobody."""
    words = Markdown(", ".join(code(reason.id) for reason in room.view.pathway.delay_reasons))
    return details_content(room.t("delay.ask_words", item=item.title, words=words, id=item.id))
