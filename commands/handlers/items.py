"""Working through the pathway: `!status`, `!ack`, `!send`, `!assign`, `!phase next`, `!settings`."""

from __future__ import annotations

from homeward.care.case import Ack, decide_ack, decide_send, find_item, missing_lanes, next_phase, phase_blockers
from homeward.care.consent import require_consent
from homeward.commands.care_room import case_json, current_case, item_line, post_checklist, refresh_checklist
from homeward.commands.context import Context, Reply
from homeward.commands.handlers.team import user_arg
from homeward.commands.registry import CASE_ROOM, Arg, CommandError, command
from homeward.render import notice_content
from homeward.i18n import render
from homeward.store import cases, consents, outbox
from homeward.text import Markdown, code, escape, mention, mentions


@command("status", where=CASE_ROOM)
async def status(ctx: Context) -> Reply:
    """Every item of the case: state, lane, due time and who acknowledged it."""
    case, view = await current_case(ctx)
    calendar = view.calendar()
    lines: dict[str, list] = {phase.id: [] for phase in view.pathway.phases}
    for phase, item in view.items():  # the pathway's items and the tasks the team added
        lines[phase.id].append(item_line(ctx, view, item, calendar))
    phases = [{"id": phase.id, "title": phase.title, "lines": lines[phase.id]} for phase in view.pathway.phases]
    text = render("messages/status.md.j2", t=ctx.t, label=case.label, pathway=view.pathway, current=view.phase, phases=phases)
    await cases.audit(
        ctx.db, room_id=ctx.room_id, actor=ctx.sender, action="status.read", now=ctx.now, case_id=case.id,
        event_id=ctx.event.event_id,
    )
    return ctx.ok(text, case=case_json(ctx, view, case.phase_id))


@command("ack", args=[Arg("item-id"), Arg("note", optional=True, rest=True)], where=CASE_ROOM)
async def ack(ctx: Context) -> Reply:
    """Mark a task done, or acknowledge (kvittera) a notice for your lane."""
    case, view = await current_case(ctx)
    item = find_item(view, ctx.args["item-id"])
    note: str | None = ctx.args["note"]
    lane_hint = None
    if note:
        first, _, rest = note.partition(" ")
        lane = view.pathway.find_lane(first)
        if lane is not None and lane.id in missing_lanes(view, item):
            lane_hint, note = lane.id, rest.strip() or None
    decision = decide_ack(view, item, ctx.sender, lane_hint)
    entry = Ack(decision.lane, ctx.sender, ctx.now, decision.on_behalf, note)
    await cases.add_ack(ctx.db, case.id, item.id, entry, ctx.event.event_id)
    await cases.audit(
        ctx.db, room_id=ctx.room_id, actor=ctx.sender, action="item.acknowledged", now=ctx.now, case_id=case.id,
        actor_lane=view.members[ctx.sender].lane, event_id=ctx.event.event_id,
        item=item.id, lane=decision.lane, on_behalf=decision.on_behalf, note=note,
    )
    await refresh_checklist(ctx, case)
    view.records.setdefault(item.id, view.record(item.id)).acks.append(entry)
    lane_name = view.pathway.lane(decision.lane).name
    waiting = [view.pathway.lane(lane).name for lane in missing_lanes(view, item)]
    key = "ack.on_behalf" if decision.on_behalf else "ack.recorded"
    text = ctx.t(key, item=item.title, lane=lane_name)
    text += " " + (ctx.t("ack.waiting", lanes=", ".join(waiting)) if waiting else ctx.t("ack.done"))
    return ctx.ok(text, item=item.id, lane=decision.lane, state="open" if waiting else "done")


@command("send", args=[Arg("notice-id")], where=CASE_ROOM)
async def send(ctx: Context) -> Reply:
    """Send a notice to the receiving lanes, who must each acknowledge it."""
    case, view = await current_case(ctx)
    item = find_item(view, ctx.args["notice-id"])
    on_behalf = decide_send(view, item, ctx.sender)
    require_consent(view, await consents.answers(ctx.db, case.id), f"notice:{item.id}")
    pathway = view.pathway
    receivers = [user for lane in item.recipients for user in view.members_of(lane)]
    lines = [
        f"📨 **{escape(item.title)}** — {escape(pathway.lane(item.sender or '').name)} → "
        + ", ".join(escape(pathway.lane(lane).name) for lane in item.recipients),
        "",
        escape(item.text),
    ]
    for lane in item.recipients:
        todo = item.recipient_text.get(lane)
        if todo:
            lines += ["", f"**{escape(pathway.lane(lane).name)}:** {escape(todo)}"]
    lines += ["", ctx.t("send.how_to_ack", item=item.id, people=mentions(receivers))]
    if case.reactions:
        lines[-1] += " " + ctx.t("send.or_react")
    content = notice_content("\n".join(lines))
    content["m.mentions"] = {"user_ids": receivers}
    content["homeward.notice"] = item.id
    row = await outbox.enqueue(ctx.db, ctx.room_id, "m.room.message", content, ctx.now)
    await cases.mark_sent(ctx.db, case.id, item.id, ctx.sender, ctx.now, row)
    await cases.audit(
        ctx.db, room_id=ctx.room_id, actor=ctx.sender, action="notice.sent", now=ctx.now, case_id=case.id,
        actor_lane=view.members[ctx.sender].lane, event_id=ctx.event.event_id, item=item.id, on_behalf=on_behalf,
        recipients=item.recipients,
    )
    await refresh_checklist(ctx, case)
    return ctx.ok(ctx.t("send.sent", item=item.title), item=item.id)


@command("assign", args=[Arg("item-id"), Arg("user", user_arg, metavar="@user:server")], where=CASE_ROOM)
async def assign(ctx: Context) -> Reply:
    """Name the person within the lane who does an item."""
    case, view = await current_case(ctx)
    item = find_item(view, ctx.args["item-id"])
    user = ctx.args["user"]
    member = view.members.get(user)
    lanes = [item.lane] if item.kind == "task" else list(item.recipients)
    if member is None or member.lane not in lanes:
        names = ", ".join(view.pathway.lane(lane).name for lane in lanes if lane)
        raise CommandError("assign.not_in_lane", user=mention(user), lanes=names)
    await cases.assign(ctx.db, case.id, item.id, user)
    await cases.audit(
        ctx.db, room_id=ctx.room_id, actor=ctx.sender, action="item.assigned", now=ctx.now, case_id=case.id,
        event_id=ctx.event.event_id, item=item.id, user=user,
    )
    await refresh_checklist(ctx, case)
    return ctx.ok(ctx.t("assign.done", item=item.title, user=mention(user)), item=item.id, user=user)


@command("phase next", args=[Arg("force", optional=True), Arg("reason", optional=True, rest=True)], where=CASE_ROOM)
async def phase_next(ctx: Context) -> Reply:
    """Move to the next phase; open mandatory items hold it unless forced with a reason."""
    case, view = await current_case(ctx)
    forced = ctx.args["force"]
    reason = ctx.args["reason"]
    if forced is not None and forced.lower() not in {"force", "tving", "tvinga"}:
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
    await cases.set_phase(ctx.db, case.id, following.id)
    await cases.audit(
        ctx.db, room_id=ctx.room_id, actor=ctx.sender, action="phase.changed", now=ctx.now, case_id=case.id,
        event_id=ctx.event.event_id, previous=view.phase_id, phase=following.id,
        forced=forced is not None, reason=reason, open_items=[i.id for i in blockers],
    )
    view.phase_id = following.id
    await post_checklist(ctx, case.id, ctx.room_id, view)
    key = "phase.forced" if blockers else "phase.moved"
    return ctx.ok(ctx.t(key, phase=following.title), phase=following.id)


@command("settings reactions", args=[Arg("on-off", metavar="on|off")], where=CASE_ROOM)
async def settings_reactions(ctx: Context) -> Reply:
    """Let ✅ / 👍 reactions on a notice count as `!ack` (on by default), or not."""
    case, _ = await current_case(ctx)
    word = ctx.args["on-off"].lower()
    if word not in {"on", "off"}:
        raise CommandError("settings.on_off", usage=True, value=word[:20])
    await cases.set_reactions(ctx.db, case.id, word == "on")
    await cases.audit(
        ctx.db, room_id=ctx.room_id, actor=ctx.sender, action="settings.changed", now=ctx.now, case_id=case.id,
        event_id=ctx.event.event_id, reactions=word == "on",
    )
    return ctx.ok(ctx.t("settings.reactions_" + word))
