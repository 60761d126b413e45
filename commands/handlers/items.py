"""Working through the pathway: `!status`, `!ack`, `!send`, `!assign`, `!phase next`, `!settings`."""

from __future__ import annotations

from homeward.care.arrival import empty_lanes, unset_dates
from homeward.care.case import (
    Ack,
    decide_ack,
    decide_send,
    due_at,
    find_item,
    missing_lanes,
    next_phase,
    phase_blockers,
    rule_due_at,
)
from homeward.care.clocks import read_clocks
from homeward.care.consent import require_consent
from homeward.care.permissions import COORDINATOR, MEMBER
from homeward.commands.arguments import person_arg
from homeward.commands.context import Context, Reply
from homeward.commands.registry import ANY_STATE, CASE_ROOM, Arg, CommandError, Section, command
from homeward.messages.catalog import render_template
from homeward.messages.checklist import case_json, clock_line, item_line
from homeward.messages.family import family_status_markdown, is_family
from homeward.messages.notices import notice_details, notice_message
from homeward.messages.speaker import local_text
from homeward.store import cases, consents
from homeward.text import Markdown, code, mention
from homeward.work.care_room import closed_at


@command(
    "status",
    args=[Arg("all", optional=True, metavar="all")],
    where=CASE_ROOM,
    rule=MEMBER,
    state=ANY_STATE,
    help_section=Section.ITEMS,
)
async def status(ctx: Context) -> Reply:
    """The current phase's items (and what is overdue from earlier phases); `!status all`: every item of the case.

    `"homeward.case"` always carries every item."""
    room = ctx.care
    view = room.view
    calendar = view.calendar()
    word = (ctx.args["all"] or "").lower()
    if word and word not in ctx.services.catalog.words("all"):
        raise CommandError("status.bad_scope", usage=True, value=word[:20])
    closed = closed_at(room.case)
    if not word and is_family(view, ctx.sender):
        # A guardian, the young person or the family: the case in plain words, no item ids.
        answers = await consents.answers(ctx.db, room.case.id)
        await room.audit("status.read")
        text = family_status_markdown(room, view, ctx.sender, answers)
        return ctx.ok(text, case=case_json(room, view, view.phase_id, closed_at=closed), view="family")
    lines: dict[str, list] = {phase.id: [] for phase in view.pathway.phases}
    empty = empty_lanes(view)
    for phase, item in view.items():  # the pathway's items and the tasks the team added
        lines[phase.id].append(item_line(room, view, item, calendar, empty))
    order = [phase.id for phase in view.pathway.phases]
    now_at = order.index(view.phase_id)

    def shown(phase_id: str) -> list:
        if word or phase_id == view.phase_id:
            return lines[phase_id]
        return [line for line in lines[phase_id] if line.state == "overdue"] if order.index(phase_id) < now_at else []

    phases = [{"id": phase.id, "title": phase.title, "lines": shown(phase.id)} for phase in view.pathway.phases]
    phases = [phase for phase in phases if phase["lines"] or phase["id"] == view.phase_id]
    clocks = [
        line
        for line in (clock_line(room, r, view.pathway) for r in read_clocks(view, ctx.now, closed_at=closed))
        if line
    ]
    ended = (
        ctx.t("status.closed", when=local_text(view.closed_at, view.pathway), reason=view.closed_reason or "—")
        if view.closed
        else ""
    )
    text = render_template(
        "messages/status.md.j2",
        t=ctx.t,
        label=view.label,
        pathway=view.pathway,
        current=view.phase,
        phases=phases,
        clocks=clocks,
        closed=ended,
    )
    if not word:
        text += "\n\n" + ctx.t("status.all_hint")
    await room.audit("status.read")
    return ctx.ok(text, case=case_json(room, view, view.phase_id, closed_at=closed))


@command(
    "ack",
    args=[Arg("item-id"), Arg("note", optional=True, rest=True)],
    where=CASE_ROOM,
    rule=MEMBER,
    help_section=Section.ITEMS,
)
async def ack(ctx: Context) -> Reply:
    """Mark a task done, or acknowledge (kvittera) a notice for your lane (which lane: care.case.decide_ack)."""
    room = ctx.care
    view = room.view
    item = find_item(view, ctx.args["item-id"])
    note: str | None = ctx.args["note"]
    lane_hint = None
    if note:
        first, _, rest = note.partition(" ")
        lane = view.pathway.find_lane(first)
        if lane is not None and lane.id in missing_lanes(view, item):
            lane_hint, note = lane.id, rest.strip() or None
    decision = decide_ack(view, item, ctx.sender, lane_hint, own_lane_only=ctx.event.reaction)
    entry = Ack(decision.lane, ctx.sender, ctx.now, decision.on_behalf, note)
    due = due_at(view, item)  # when it had to be done (for a sent notice: acknowledged): the event log's "late by"
    await cases.add_ack(ctx.db, room.case.id, item.id, entry, ctx.event.event_id)
    await room.audit(
        "item.acknowledged",
        item=item.id,
        lane=decision.lane,
        on_behalf=decision.on_behalf,
        note=note,
        due=due.isoformat() if due else None,
    )
    lane_name = view.pathway.lane(decision.lane).name
    waiting = [view.pathway.lane(lane).name for lane in missing_lanes(view, item) if lane != decision.lane]
    key = "ack.on_behalf" if decision.on_behalf else "ack.recorded"
    text: str = ctx.t(key, item=item.title, lane=lane_name)
    text += " " + (ctx.t("ack.waiting", lanes=", ".join(waiting)) if waiting else ctx.t("ack.done"))
    return ctx.ok(text, item=item.id, lane=decision.lane, state="open" if waiting else "done")


@command("send", args=[Arg("notice-id")], where=CASE_ROOM, rule=MEMBER, help_section=Section.ITEMS)
async def send(ctx: Context) -> Reply:
    """Send a notice to the receiving lanes, who must each acknowledge it (which lane sends: care.case.decide_send)."""
    room = ctx.care
    view, case = room.view, room.case
    item = find_item(view, ctx.args["notice-id"])
    on_behalf = decide_send(view, item, ctx.sender)
    require_consent(view, await consents.answers(ctx.db, case.id), f"notice:{item.id}")
    details = notice_details(room, view, item, sender=ctx.sender, sent_at=ctx.now, reactions=case.reactions)
    await room.queue(details)  # what it says, naming nobody
    row = await room.queue(
        notice_message(room, view, item, sender=ctx.sender, sent_at=ctx.now, reactions=case.reactions)
    )
    due = rule_due_at(view, item)  # when it had to be sent: the event log's "late by"
    await cases.mark_sent(ctx.db, case.id, item.id, ctx.sender, ctx.now, row)
    await room.audit(
        "notice.sent",
        item=item.id,
        on_behalf=on_behalf,
        recipients=item.recipients,
        due=due.isoformat() if due else None,
    )
    # Sent and recorded even so (the sending lane's deadline is met by sending), but the sender is told
    # who cannot acknowledge it yet and what the notice says is missing.
    text: str = ctx.t("send.sent", item=item.title)
    empty = [lane for lane in item.recipients if lane in empty_lanes(view)]
    for lane in empty:
        text += "\n\n⚠️ " + ctx.t("send.lane_empty", lane=view.pathway.lane(lane).name, lane_id=lane)
    unset = unset_dates(view, item)
    if unset:
        text += "\n\n⚠️ " + ctx.t("send.dates_unset", dates=", ".join(named.label for named in unset))
    return ctx.ok(text, item=item.id, nobody_in=empty, dates_unset=[named.id for named in unset])


@command(
    "assign",
    args=[Arg("item-id"), Arg("user", person_arg, metavar="@user:server")],
    where=CASE_ROOM,
    rule=COORDINATOR,
    help_section=Section.ITEMS,
)
async def assign(ctx: Context) -> Reply:
    """Name the person within the lane who does an item."""
    room = ctx.care
    view = room.view
    item = find_item(view, ctx.args["item-id"])
    user = ctx.args["user"]
    member = view.members.get(user)
    lanes = [item.lane] if item.kind == "task" else list(item.recipients)
    if member is None or member.lane not in lanes:
        names = ", ".join(view.pathway.lane(lane).name for lane in lanes if lane)
        raise CommandError("assign.not_in_lane", user=mention(user), lanes=names)
    await cases.assign(ctx.db, room.case.id, item.id, user)
    await room.audit("item.assigned", item=item.id, user=user)
    return ctx.ok(ctx.t("assign.done", item=item.title, user=mention(user)), item=item.id, user=user)


@command(
    "phase next",
    args=[Arg("force", optional=True), Arg("reason", optional=True, rest=True)],
    where=CASE_ROOM,
    rule=COORDINATOR,
    help_section=Section.ITEMS,
)
async def phase_next(ctx: Context) -> Reply:
    """Move to the next phase; open mandatory items hold it unless forced with a reason."""
    room = ctx.care
    view = room.view
    forced = ctx.args["force"]
    reason = ctx.args["reason"]
    if forced is not None and forced.lower() not in ctx.services.catalog.words("force"):
        raise CommandError("phase.bad_force", usage=True, word=forced[:40])
    if forced is not None and not reason:
        raise CommandError("phase.force_needs_reason", usage=True)
    following = next_phase(view)
    if following is None:
        raise CommandError("phase.last", phase=view.phase.title)
    blockers = phase_blockers(view)
    if blockers and forced is None:
        listing = ", ".join(code(i.id) for i in blockers)
        raise CommandError("phase.blocked", phase=view.phase.title, items=Markdown(listing))
    await cases.set_phase(ctx.db, room.case.id, following.id)
    await room.audit(
        "phase.changed",
        previous=view.phase_id,
        phase=following.id,
        forced=forced is not None,
        reason=reason,
        open_items=[i.id for i in blockers],
    )
    await room.reload()
    await room.post_checklist()
    key = "phase.forced" if blockers else "phase.moved"
    return ctx.ok(ctx.t(key, phase=following.title), phase=following.id)


@command(
    "settings reactions",
    args=[Arg("on-off", metavar="on|off")],
    where=CASE_ROOM,
    rule=COORDINATOR,
    help_section=Section.ROOM,
)
async def settings_reactions(ctx: Context) -> Reply:
    """Let ✅ / 👍 reactions on a notice count as `!ack` (on by default), or not."""
    typed = ctx.args["on-off"].lower()
    words = ctx.services.catalog.words
    word = "on" if typed in words("on") else "off" if typed in words("off") else None
    if word is None:
        raise CommandError("settings.on_off", usage=True, value=typed[:20])
    await cases.set_reactions(ctx.db, ctx.care.case.id, word == "on")
    await ctx.audit("settings.changed", reactions=word == "on")
    return ctx.ok(ctx.t("settings.reactions_" + word))
