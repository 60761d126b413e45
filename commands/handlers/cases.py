"""A case's beginning and end: `!pathways`, `!case new`, `!case close`, `!case reopen`.

A closed case keeps everything; it wants no reminders, its checklist becomes a closed
summary, and commands that would change it are refused (their declaration, `state=`,
checked by the one gate) until it is reopened. Reading and exporting still work.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from zoneinfo import ZoneInfo

from homeward.care.case import close_blockers
from homeward.care.labels import check_label
from homeward.care.pathway import Pathway, pathway_version
from homeward.care.permissions import ANYONE, CASE_OPENER, COORDINATOR, COORDINATOR_OR_CARE_WITHOUT_ONE
from homeward.care.review import case_review
from homeward.commands.arguments import pathway_arg
from homeward.commands.context import Context, Reply
from homeward.commands.registry import (
    ANY_STATE,
    CASE_ROOM,
    CLOSED_CASE,
    DIRECT_ROOM,
    Arg,
    CommandError,
    Section,
    command,
)
from homeward.matrix.content import notice_content
from homeward.matrix.rooms import case_room_request
from homeward.messages.review import review_content
from homeward.ratelimit import Rate
from homeward.store import cases, delays, outbox
from homeward.text import Markdown, code, escape
from homeward.work.care_room import CareRoom
from homeward.work.room_state import keep_in_step, record_created, wanted_state


def label_arg(text: str, ctx: Context) -> str:
    return check_label(text)


@command("pathways", rule=ANYONE, state=ANY_STATE, help_section=Section.ROOM)
async def pathways(ctx: Context) -> Reply:
    """List the pathways a case can follow."""
    lines = [
        f"- {code(p.id)} — {ctx.t('case.pathway_line', title=p.title, country=p.country, language=p.language)}"
        for p in sorted(ctx.services.pathways.values(), key=lambda p: p.id)
    ]
    listing = [
        {"id": p.id, "title": p.title, "country": p.country, "language": p.language}
        for p in ctx.services.pathways.values()
    ]
    return ctx.ok(ctx.t("case.pathways_title") + "\n\n" + "\n".join(lines), pathways=listing)


#: How many cases one person may open per hour unless the configuration says otherwise (`rate_limits`).
CASE_NEW_RATE = Rate(10, timedelta(hours=1))


@command(
    "case new",
    args=[Arg("pathway-id", pathway_arg), Arg("label", label_arg, rest=True)],
    where=DIRECT_ROOM,
    rule=CASE_OPENER,
    needs_encryption=True,
    rate=CASE_NEW_RATE,
    help_section=Section.ROOM,
)
async def case_new(ctx: Context) -> Reply:
    """Create the care-team room of a new case and invite the sender as its coordinator.

    Only people named in `case_openers` may (the room carries the hospital's bot and collects
    consents in its name), only from an encrypted message in an encrypted room (the answer
    names the label), and only so often (`CASE_NEW_RATE`).
    """
    pathway: Pathway = ctx.args["pathway-id"]
    label: str = ctx.args["label"]
    state = wanted_state(ctx.services, label=label, language=pathway.language, coordinators=[ctx.sender])
    request = case_room_request(state=state, coordinator=ctx.sender)
    create = await outbox.enqueue(
        ctx.db,
        ctx.room_id,
        "m.room.create",
        {"request": request, "case_key": secrets.token_hex(16), "homeward.language": pathway.language},
        ctx.now,
        kind=outbox.CREATE_ROOM,
    )
    first_phase = pathway.phases[0]
    case_id = await cases.open_case(
        ctx.db,
        pathway_id=pathway.id,
        label=label,
        phase_id=first_phase.id,
        opened_by=ctx.sender,
        opened_in=ctx.room_id,
        create_outbox=create,
        now=ctx.now,
    )
    await cases.put_member(ctx.db, case_id, ctx.sender, None, True, ctx.sender, ctx.now)
    await delays.record_version(ctx.db, case_id, pathway_version(pathway))  # the event log says which version
    today = ctx.now.astimezone(ZoneInfo(pathway.timezone)).date()
    for named in pathway.dates:
        if named.set_on_case_open:
            await cases.put_date(ctx.db, case_id, named.id, today, ctx.sender, ctx.now)
    await ctx.audit("case.opened", case_id=case_id, pathway=pathway.id, label=label)
    # The new room's unit of work: it speaks the pathway's language; the room is the one being created.
    room = await CareRoom.of_case(
        ctx.db,
        ctx.services,
        case_id,
        actor=ctx.sender,
        event_id=ctx.event.event_id,
        now=ctx.now,
        room_id=outbox.ref(create),
    )
    await record_created(room, state)
    await keep_in_step(room)  # what the creation request cannot carry: the bot's name in the room's language
    await room.queue(_welcome(room, pathway, label))
    await room.post_checklist()
    await room.reschedule_reminders()  # e.g. planning meeting 1 is due 14 days after the start
    await room.reschedule_worklists_and_retention()  # the coordinator's worklist now has a case
    return ctx.ok(
        ctx.t("case.opened", label=label, pathway=pathway.title),
        room_id=room.room_id,
        case_label=label,
        pathway=pathway.id,
    )


def _welcome(room: CareRoom, pathway: Pathway, label: str) -> dict:
    """The first message of the room, in the pathway's language: what the room is for, the lanes."""
    lanes = ", ".join(f"{code(lane.id)} ({escape(lane.name)})" for lane in pathway.lanes)
    return notice_content(room.t("case.welcome", label=label, pathway=pathway.title, lanes=Markdown(lanes)))


#: At most this many open mandatory items are named in a refusal; the rest are counted.
BLOCKERS_NAMED = 10


@command(
    "case close",
    args=[Arg("reason", rest=True, metavar="reason")],
    where=CASE_ROOM,
    rule=COORDINATOR,
    help_section=Section.ROOM,
)
async def case_close(ctx: Context) -> Reply:
    """Close the case with a reason; open mandatory items hold it unless you write `force` before the reason.

    The review of the case (`care.review`) follows the answer, posted once."""
    room = ctx.care
    view = room.view
    first, _, rest = ctx.args["reason"].strip().partition(" ")
    forced = first.lower() in ctx.services.catalog.words("force")  # as `!phase next force`
    reason = rest.strip() if forced else ctx.args["reason"].strip()
    if not reason:
        raise CommandError("case.close_needs_reason", usage=True)
    blockers = close_blockers(view)
    if blockers and not forced:
        named = ", ".join(code(i.id) for i in blockers[:BLOCKERS_NAMED])
        if len(blockers) > BLOCKERS_NAMED:
            named += " " + ctx.t("case.close_blocked_more", more=len(blockers) - BLOCKERS_NAMED)
        raise CommandError("case.close_blocked", count=len(blockers), items=Markdown(named))
    await cases.close(ctx.db, room.case.id, ctx.sender, reason, ctx.now)
    await room.audit("case.closed", reason=reason, forced=forced, open_items=[i.id for i in blockers])
    # The review at the case's end: queued in this transaction, after the answer, so it goes out once
    # with the closing (the outbox's transaction id: not again after a crash or a restart).
    history = await cases.phase_history(ctx.db, room.case.id)
    review = case_review(view, history, room.case.opened_at or ctx.now, ctx.now)

    async def post_review() -> None:
        await room.queue(review_content(room, review, view.pathway))
        await room.audit("case.reviewed", late=len(review.late), days=round(review.days, 2))

    room.after_answer(post_review)
    days = ctx.services.config.retention_days
    text = ctx.t("case.closed", label=view.label) + "\n\n" + ctx.t("case.final_exports")
    text += "\n\n" + (ctx.t("case.retention", days=days) if days else ctx.t("case.kept"))
    return ctx.ok(text, state="closed")


# While a closed case has no coordinator (the last one left), a member of a care lane may reopen it, and then name one.
@command(
    "case reopen",
    args=[Arg("reason", rest=True)],
    where=CASE_ROOM,
    rule=COORDINATOR_OR_CARE_WITHOUT_ONE,
    state=CLOSED_CASE,
    help_section=Section.ROOM,
)
async def case_reopen(ctx: Context) -> Reply:
    """Open a closed case again, with a reason: its reminders and checklist come back."""
    room = ctx.care
    reason = ctx.args["reason"].strip()
    await cases.reopen(ctx.db, room.case.id)
    await room.audit(
        "case.reopened",
        reason=reason,
        closed_at=room.view.closed_at.isoformat() if room.view.closed_at else None,
        closed_reason=room.view.closed_reason,
    )
    return ctx.ok(ctx.t("case.reopened", label=room.view.label), state="open")
