"""The care team: `!invite`, `!role`, `!team`. Lanes give people their part in the pathway."""

from __future__ import annotations

import re

from homeward.bot.rooms import power_levels
from homeward.care.case import CaseView, find_lane
from homeward.commands.care_room import current_case
from homeward.commands.handlers import consent as consent_handlers
from homeward.commands.context import Context, Reply
from homeward.commands.registry import CASE_ROOM, Arg, CommandError, command
from homeward.store import cases, outbox
from homeward.store.cases import CaseRow
from homeward.text import code, escape, mention

USER_ID = re.compile(r"^@[a-z0-9._=\-/+]+:[A-Za-z0-9.\-]+(:\d+)?$")
COORDINATOR_WORDS = {"coordinator", "koordinator", "samordnare", "samordningsansvarig"}


def user_arg(text: str, ctx: Context) -> str:
    """A Matrix user id; Element pastes mentions as plain ids or matrix.to links."""
    text = text.strip().removeprefix("https://matrix.to/#/")
    if not USER_ID.match(text):
        raise CommandError("team.bad_user", usage=True, user=text[:80])
    return text


def coordinator_arg(text: str, ctx: Context) -> bool:
    if text.strip().lower() not in COORDINATOR_WORDS:
        raise CommandError("team.bad_flag", usage=True, word=text[:40])
    return True


async def update_power_levels(ctx: Context, case: CaseRow) -> None:
    """Room power levels follow the coordinator flags: the bot highest, coordinators invite and remove."""
    view = await cases.load_view(ctx.db, case, ctx.services.pathways[case.pathway_id])
    content = power_levels(ctx.services.config.user_id, view.coordinators())
    await outbox.enqueue(
        ctx.db, ctx.room_id, "m.room.power_levels", {"content": content}, ctx.now,
        kind=outbox.STATE, supersede_key=f"power:{case.id}",
    )


async def _set_member(ctx: Context, case: CaseRow, view: CaseView, user: str, lane_text: str, coordinator: bool, action: str) -> str:
    lane = find_lane(view, lane_text)
    before = view.members.get(user)
    if before and before.coordinator and not coordinator and view.coordinators() == [user]:
        raise CommandError("team.last_coordinator")
    await cases.put_member(ctx.db, case.id, user, lane.id, coordinator, ctx.sender, ctx.now)
    await cases.audit(
        ctx.db, room_id=ctx.room_id, actor=ctx.sender, action=action, now=ctx.now, case_id=case.id,
        actor_lane=_lane_of(view, ctx.sender), event_id=ctx.event.event_id, user=user, lane=lane.id, coordinator=coordinator,
        previous_lane=before.lane if before else None, previous_coordinator=before.coordinator if before else None,
    )
    if coordinator != (before.coordinator if before else False):
        await update_power_levels(ctx, case)
    return lane.name


def _lane_of(view: CaseView, user: str) -> str | None:
    member = view.members.get(user)
    return member.lane if member else None


@command(
    "invite",
    args=[Arg("user", user_arg, metavar="@user:server"), Arg("lane"), Arg("coordinator", coordinator_arg, optional=True)],
    where=CASE_ROOM,
)
async def invite(ctx: Context) -> Reply:
    """Invite a person into the care room with a lane (and optionally coordinator rights)."""
    case, view = await current_case(ctx)
    user, coordinator = ctx.args["user"], bool(ctx.args["coordinator"])
    if user == ctx.services.config.user_id:
        raise CommandError("team.not_the_bot")
    lane_name = await _set_member(ctx, case, view, user, ctx.args["lane"], coordinator, "member.added")
    await outbox.enqueue(ctx.db, ctx.room_id, "m.room.member", {"user_id": user}, ctx.now, kind=outbox.INVITE)
    if find_lane(view, ctx.args["lane"]).role in ("guardian", "child"):
        # A guardian (or the young person) joins: ask for the consents not given yet.
        await consent_handlers.ask(ctx, case, await cases.load_view(ctx.db, case, view.pathway), after_join=user)
    key = "team.invited_coordinator" if coordinator else "team.invited"
    return ctx.ok(ctx.t(key, user=mention(user), lane=lane_name))


@command(
    "role",
    args=[Arg("user", user_arg, metavar="@user:server"), Arg("lane"), Arg("coordinator", coordinator_arg, optional=True)],
    where=CASE_ROOM,
)
async def role(ctx: Context) -> Reply:
    """Change a member's lane or coordinator flag."""
    case, view = await current_case(ctx)
    user, coordinator = ctx.args["user"], bool(ctx.args["coordinator"])
    if user not in view.members:
        raise CommandError("team.not_member", user=mention(user))
    lane_name = await _set_member(ctx, case, view, user, ctx.args["lane"], coordinator, "member.changed")
    key = "team.role_coordinator" if coordinator else "team.role"
    return ctx.ok(ctx.t(key, user=mention(user), lane=lane_name))


@command("team", where=CASE_ROOM)
async def team(ctx: Context) -> Reply:
    """List the members of the case with their lanes."""
    case, view = await current_case(ctx)
    lines = []
    for lane in view.pathway.lanes:
        people = [m for m in view.members.values() if m.lane == lane.id]
        if people:
            names = ", ".join(mention(m.user_id) + (" ★" if m.coordinator else "") for m in sorted(people, key=lambda m: m.user_id))
            lines.append(f"- **{escape(lane.name)}** ({code(lane.id)}): {names}")
    laneless = [m for m in view.members.values() if m.lane is None]
    if laneless:
        lines.append(f"- **{ctx.t('team.no_lane')}**: " + ", ".join(mention(m.user_id) + (" ★" if m.coordinator else "") for m in laneless))
    members = [{"user": m.user_id, "lane": m.lane, "coordinator": m.coordinator} for m in view.members.values()]
    text = ctx.t("team.title", label=case.label) + "\n\n" + "\n".join(lines) + "\n\n" + ctx.t("team.legend")
    return ctx.ok(text, team=members)
