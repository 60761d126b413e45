"""Why a step is late: `!reason <item-id> [reason] [lane]`.

The overdue reminder asks the late lane why (`care.delays.lanes_to_ask`); the lane answers
with this command, or with the one word replied to that reminder (`commands.dispatch`
runs this command for it, marked `by_reply`). A lane may change its answer; a coordinator
may answer for a lane, naming it when more than one is late. Every answer is kept and audited.
"""

from __future__ import annotations

from homeward.care.case import GivenReason, find_item, find_lane
from homeward.care.delays import decide_reason, find_reason, late_lanes, reason_label, reason_words
from homeward.care.permissions import MEMBER
from homeward.commands.context import Context, Reply
from homeward.commands.registry import CASE_ROOM, Arg, Section, command
from homeward.store import delays
from homeward.text import Markdown, escape


@command(
    "reason",
    args=[Arg("item-id"), Arg("reason", optional=True, metavar="delay-reason"), Arg("lane", optional=True)],
    where=CASE_ROOM,
    rule=MEMBER,
    help_section=Section.ITEMS,
)
async def reason(ctx: Context) -> Reply:
    """Say why an item is late for your lane, in one of the pathway's words; without one, list them."""
    room = ctx.care
    view = room.view
    item = find_item(view, ctx.args["item-id"])
    typed: str | None = ctx.args["reason"]
    if typed is None:
        return _listing(ctx, item.id, item.title)
    chosen = find_reason(view, typed)
    lane_hint = find_lane(view, ctx.args["lane"]).id if ctx.args["lane"] else None
    decision = decide_reason(view, item, ctx.sender, chosen, ctx.now, lane_hint)
    lane_name = view.pathway.lane(decision.lane).name
    extra = {"item": item.id, "lane": decision.lane, "reason": chosen.id, "code": chosen.code}
    if decision.unchanged:
        return ctx.ok(ctx.t("delay.unchanged", item=item.title, lane=lane_name, reason=chosen.label), **extra)
    given = GivenReason(item.id, decision.lane, chosen.id, chosen.code, ctx.sender, ctx.now, decision.on_behalf)
    await delays.add_reason(ctx.db, room.case.id, given, ctx.event.event_id)
    previous = decision.previous
    await room.audit(
        "delay.reason",
        item=item.id,
        lane=decision.lane,
        reason=chosen.id,
        code=chosen.code,
        previous=previous.reason if previous else None,
        on_behalf=decision.on_behalf,
        by_reply=ctx.event.by_reply,
    )
    if previous is not None:
        text = ctx.t(
            "delay.changed",
            item=item.title,
            lane=lane_name,
            reason=chosen.label,
            previous=reason_label(view, previous),
        )
    else:
        key = "delay.on_behalf" if decision.on_behalf else "delay.recorded"
        text = ctx.t(key, item=item.title, lane=lane_name, reason=chosen.label)
    return ctx.ok(text, **extra, changed=previous is not None, on_behalf=decision.on_behalf)


def _listing(ctx: Context, item_id: str, title: str) -> Reply:
    """The pathway's reasons, and what each late lane has said about the item so far."""
    view = ctx.care.view
    if not view.pathway.delay_reasons:
        return ctx.ok(ctx.t("delay.no_reasons"))
    lines = [ctx.t("delay.list", item=title, reasons=reason_words(view), id=item_id)]
    given = []
    for lane in late_lanes(view, view.item(item_id), ctx.now):
        answer = view.reasons.get((item_id, lane))
        name = view.pathway.lane(lane).name
        shown = reason_label(view, answer) if answer else ctx.t("delay.none_given")
        given.append(Markdown(f"{escape(name)}: {escape(shown)}"))
    if given:
        lines.append(ctx.t("delay.given", given=Markdown("; ".join(given))))
    else:
        lines.append(ctx.t("delay.not_late_yet", item=item_id))
    return ctx.ok(
        "\n\n".join(lines),
        item=item_id,
        reasons=[{"id": r.id, "code": r.code, "label": r.label} for r in view.pathway.delay_reasons],
        given={lane: r.reason for (item, lane), r in view.reasons.items() if item == item_id},
    )
