"""What a care room shows of its case: the checklist of the current phase and the case as data.

The checklist is one pinned message, edited in place (`m.replace`) whenever the case
changes; pending edits of the same checklist replace each other in the outbox, so a
burst of acknowledgements costs one edit, not fifty.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeward.care.arrival import acting_for, empty_lanes
from homeward.care.calendar import WorkingCalendar
from homeward.care.case import CaseView, due_at, item_state, missing_lanes
from homeward.care.clocks import ClockReading, clock_json, read_clocks
from homeward.care.delays import late_lanes, reason_label
from homeward.care.pathway import Item, Pathway
from homeward.matrix.content import EVENT_CONTENT_MAX_BYTES, content_size, notice_content
from homeward.messages.catalog import render_template
from homeward.messages.speaker import Speaker, local_text
from homeward.text import escape, mention, mentions


@dataclass
class Line:
    id: str
    title: str
    kind: str
    state: str
    lane_name: str
    detail: str
    lane_id: str = ""


def item_line(
    room: Speaker, view: CaseView, item: Item, calendar: WorkingCalendar, empty: set[str] | None = None
) -> Line:
    """The item as the checklist and `!status` show it. `empty`: the view's `empty_lanes`, when the caller
    draws many items of one view (computed once, not once per item)."""
    pathway = view.pathway
    state = item_state(view, item, room.now, calendar)
    record = view.record(item.id)
    parts: list[str] = []
    if record.acks:
        parts.append(", ".join(f"✓ {escape(pathway.lane(a.lane).name)} ({mention(a.user_id)})" for a in record.acks))
    if item.kind == "notice" and record.sent_at is None:
        parts.append(room.t("item.not_sent"))
    elif state != "done":
        empty = empty_lanes(view) if empty is None else empty
        waiting = [
            pathway.lane(lane).name + (f" ({room.t('checklist.nobody_yet')})" if lane in empty else "")
            for lane in missing_lanes(view, item)
        ]
        if item.kind == "notice":
            parts.append(room.t("item.waiting_for", lanes=", ".join(waiting)))
    due = due_at(view, item, calendar)
    if due is not None and state != "done":
        parts.append(room.t("item.due", when=local_text(due, pathway)))
    if record.assigned_to and state != "done":
        parts.append("→ " + mention(record.assigned_to))
    parts.extend(delay_parts(room, view, item, state))
    lane_id = item.lane if item.kind == "task" else item.sender
    return Line(
        item.id, item.title, item.kind, state, pathway.lane(lane_id or "").name, " · ".join(parts), lane_id or ""
    )


def delay_parts(room: Speaker, view: CaseView, item: Item, state: str) -> list[str]:
    """Why the item is (or was) late, lane by lane, as the lanes said; for an overdue item, who has not said yet."""
    pathway = view.pathway
    parts: list[str] = []
    given = [(lane, answer) for (item_id, lane), answer in view.reasons.items() if item_id == item.id]
    for lane, answer in sorted(given, key=lambda g: g[0]):
        parts.append(room.t("delay.shown", lane=_lane_name(view, lane), reason=reason_label(view, answer)))
    if state == "overdue" and pathway.delay_reasons:
        silent = [lane for lane in late_lanes(view, item, room.now) if (item.id, lane) not in view.reasons]
        if silent:
            parts.append(
                room.t("delay.missing", lanes=", ".join(_lane_name(view, lane) for lane in silent), id=item.id)
            )
    return parts


def _lane_name(view: CaseView, lane_id: str) -> str:
    try:
        return view.pathway.lane(lane_id).name
    except KeyError:
        return lane_id


#: The checklist must fit one event (homeward.matrix.content: the one size rule for messages).
CHECKLIST_MAX_BYTES = EVENT_CONTENT_MAX_BYTES
#: In the compact form, at most this many open items are listed (the rest are counted).
COMPACT_OPEN_LINES = 40


def checklist_markdown(room: Speaker, view: CaseView, compact: bool = False) -> str:
    """The checklist of the current phase, grouped by the lane that owns (or sends) each item.

    `compact` leaves out the items that are done (counted instead) and lists at most
    COMPACT_OPEN_LINES open ones: for phases too big for one Matrix event otherwise.
    """
    if view.closed:
        return closed_markdown(room, view)
    calendar = view.calendar()
    empty = empty_lanes(view)
    lines = [item_line(room, view, item, calendar, empty) for item in view.phase_items()]
    done = sum(1 for line in lines if line.state == "done")
    shown = [line for line in lines if line.state != "done"][:COMPACT_OPEN_LINES] if compact else lines
    lanes: dict[str, dict[str, Any]] = {}
    for line in shown:
        lane = lanes.setdefault(
            line.lane_name,
            {"name": line.lane_name, "id": line.lane_id, "empty": line.lane_id in empty, "by": "", "lines": []},
        )
        lane["lines"].append(line)
    for lane in lanes.values():
        # A lane nobody is in, whose work others do (the family's, by the guardians): who does it.
        if lane["id"] and not view.members_of(lane["id"]) and not lane["empty"]:
            lane["by"] = room.t("checklist.acted_for", people=mentions(acting_for(view, lane["id"])))
    return render_template(
        "messages/checklist.md.j2",
        t=room.t,
        phase=view.phase,
        label=view.label,
        lanes=list(lanes.values()),
        done=done,
        total=len(lines),
        compact=compact,
        hidden_open=len(lines) - done - len(shown) if compact else 0,
    )


def closed_markdown(room: Speaker, view: CaseView) -> str:
    """What the pinned checklist of a closed case becomes: when and why it closed, how much was
    done, the final exports and how to reopen it."""
    items = [item for _, item in view.items()]
    done = sum(1 for item in items if not missing_lanes(view, item))
    return "\n\n".join(
        [
            room.t("checklist.closed_title", label=view.label, done=done, total=len(items)),
            room.t("checklist.closed", when=local_text(view.closed_at, view.pathway), reason=view.closed_reason or "—"),
            room.t("case.final_exports"),
            room.t("checklist.closed_reopen"),
        ]
    )


def checklist_content(room: Speaker, view: CaseView, markdown: str | None = None) -> dict[str, Any]:
    """The checklist as message content: in full, or compact when the full one is too big.

    `markdown`: the full checklist of `view`, when the caller has drawn it already."""
    for compact in (False, True):
        drawn = markdown if markdown is not None and not compact else checklist_markdown(room, view, compact=compact)
        content = notice_content(drawn)
        content["homeward.checklist"] = view.phase_id
        if content_size(content) <= CHECKLIST_MAX_BYTES:
            break
    return content


def clock_line(room: Speaker, reading: ClockReading, pathway: Pathway) -> str | None:
    """One statutory clock as `!status` shows it ("day 3 since …"), or None while it has not started."""
    if reading.state == "not_started":
        return None
    clock = reading.clock
    values = {
        "label": clock.label,
        "days": reading.days,
        "span": room.t("time.days", n=reading.days),
        "limit": room.t("time.days", n=clock.limit),
        "start": local_text(reading.started_at, pathway),
        "limit_at": local_text(reading.limit_at, pathway),
        "stop": local_text(reading.stopped_at, pathway),
    }
    if reading.state == "waiting":
        key = "clock.waiting"
    elif reading.state == "stopped":
        key = "clock.stopped_reached" if reading.reached else "clock.stopped_within"
    else:
        key = "clock.running_reached" if reading.reached else "clock.running"
    return room.t(key, **values)


def case_json(room: Speaker, view: CaseView, phase_id: str, *, closed_at: datetime | None = None) -> dict[str, Any]:
    """The machine-readable case for `homeward.case`: items with their states, and the statutory clocks."""
    calendar = view.calendar()
    items = []
    for phase, item in view.items():
        due = due_at(view, item, calendar)
        items.append(
            {
                "id": item.id,
                "phase": phase.id,
                "kind": item.kind,
                "title": item.title,
                "lane": item.lane if item.kind == "task" else item.sender,
                "state": item_state(view, item, room.now, calendar),
                "due": due.isoformat() if due else None,
                "acks": [
                    {"user": a.user_id, "lane": a.lane, "at": a.at.isoformat(), "on_behalf": a.on_behalf}
                    for a in view.record(item.id).acks
                ],
                "reasons": {
                    lane: {"reason": r.reason, "code": r.code, "at": r.at.isoformat(), "on_behalf": r.on_behalf}
                    for (item_id, lane), r in sorted(view.reasons.items())
                    if item_id == item.id
                },
            }
        )
    clocks = [clock_json(reading) for reading in read_clocks(view, room.now, closed_at=closed_at)]
    return {
        "pathway": view.pathway.id,
        "phase": phase_id,
        "items": items,
        "clocks": clocks,
        "state": view.state,
        "closed_at": view.closed_at.isoformat() if view.closed_at else None,
        "closed_reason": view.closed_reason,
    }
