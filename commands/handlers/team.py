"""The care team: `!invite`, `!role`, `!team`, `!handover`. Lanes give people their part in the pathway."""

from __future__ import annotations

from homeward.care.case import find_lane
from homeward.care.permissions import COORDINATOR, MEMBER
from homeward.commands.care_room import CareRoom
from homeward.commands.context import Context, Reply
from homeward.commands.handlers import consent as consent_handlers
from homeward.commands.desk import reaching_content
from homeward.commands.registry import ANY_STATE, CASE_ROOM, Arg, CommandError, command
from homeward.commands.rooms import power_levels
from homeward.ids import is_user_id
from homeward.text import code, escape, mention
from homeward.store import cases, desk, outbox

COORDINATOR_WORDS = {"coordinator", "koordinator", "samordnare", "samordningsansvarig"}


def user_arg(text: str, ctx: Context) -> str:
    """A Matrix user id; Element pastes mentions as plain ids or matrix.to links."""
    text = text.strip().removeprefix("https://matrix.to/#/")
    if not is_user_id(text):
        raise CommandError("team.bad_user", usage=True, user=text[:80])
    return text


def coordinator_arg(text: str, ctx: Context) -> bool:
    if text.strip().lower() not in COORDINATOR_WORDS:
        raise CommandError("team.bad_flag", usage=True, word=text[:40])
    return True


async def update_power_levels(room: CareRoom) -> None:
    """Room power levels follow the coordinator flags: the bot highest, coordinators invite and remove."""
    content = power_levels(room.services.config.user_id, room.view.coordinators())
    await room.queue({"content": content}, event_type="m.room.power_levels", kind=outbox.STATE,
                     supersede_key=f"power:{room.case.id}")


async def _set_member(ctx: Context, user: str, lane_text: str, coordinator: bool, action: str) -> str:
    room = ctx.care
    view = room.view
    lane = find_lane(view, lane_text)
    before = view.members.get(user)
    if before and before.coordinator and not coordinator and view.coordinators() == [user]:
        raise CommandError("team.last_coordinator")
    await cases.put_member(ctx.db, room.case.id, user, lane.id, coordinator, ctx.sender, ctx.now)
    await room.audit(
        action, user=user, lane=lane.id, coordinator=coordinator,
        previous_lane=before.lane if before else None, previous_coordinator=before.coordinator if before else None,
    )
    if coordinator != (before.coordinator if before else False):
        await room.reload()
        await update_power_levels(room)
    return lane.name


@command(
    "invite",
    args=[Arg("user", user_arg, metavar="@user:server"), Arg("lane"), Arg("coordinator", coordinator_arg, optional=True)],
    where=CASE_ROOM,
    rule=COORDINATOR,
)
async def invite(ctx: Context) -> Reply:
    """Invite a person into the care room with a lane (and optionally coordinator rights)."""
    room = ctx.care
    user, coordinator = ctx.args["user"], bool(ctx.args["coordinator"])
    if user == ctx.services.config.user_id:
        raise CommandError("team.not_the_bot")
    lane_name = await _set_member(ctx, user, ctx.args["lane"], coordinator, "member.added")
    await room.queue({"user_id": user}, event_type="m.room.member", kind=outbox.INVITE)
    if find_lane(room.view, ctx.args["lane"]).role in ("guardian", "child"):
        # A guardian (or the young person) joins: ask for the consents not given yet.
        await room.reload()
        await consent_handlers.ask(room, after_join=user)
    key = "team.invited_coordinator" if coordinator else "team.invited"
    return ctx.ok(ctx.t(key, user=mention(user), lane=lane_name))


@command(
    "role",
    args=[Arg("user", user_arg, metavar="@user:server"), Arg("lane"), Arg("coordinator", coordinator_arg, optional=True)],
    where=CASE_ROOM,
    rule=COORDINATOR,
)
async def role(ctx: Context) -> Reply:
    """Change a member's lane or coordinator flag."""
    user, coordinator = ctx.args["user"], bool(ctx.args["coordinator"])
    if user not in ctx.care.view.members:
        raise CommandError("team.not_member", user=mention(user))
    lane_name = await _set_member(ctx, user, ctx.args["lane"], coordinator, "member.changed")
    key = "team.role_coordinator" if coordinator else "team.role"
    return ctx.ok(ctx.t(key, user=mention(user), lane=lane_name))


@command("team", where=CASE_ROOM, rule=MEMBER, state=ANY_STATE)
async def team(ctx: Context) -> Reply:
    """List the members of the case with their lanes."""
    view = ctx.care.view
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
    text = ctx.t("team.title", label=view.label) + "\n\n" + "\n".join(lines) + "\n\n" + ctx.t("team.legend")
    return ctx.ok(text, team=members)


@command("handover", args=[Arg("user", user_arg, metavar="@user:server"), Arg("note", optional=True, rest=True)],
         where=CASE_ROOM, rule=COORDINATOR)
async def handover(ctx: Context) -> Reply:
    """Hand the case over: the named member becomes its coordinator, you stay in your lane."""
    room = ctx.care
    view = room.view
    user, note = ctx.args["user"], ctx.args["note"]
    if user == ctx.sender:
        raise CommandError("handover.self")
    target = view.members.get(user)
    if target is None or user == ctx.services.config.user_id:
        raise CommandError("team.not_member", user=mention(user))
    me = room.member
    assert me is not None  # the gate let a coordinator of the case through
    await cases.put_member(ctx.db, room.case.id, user, target.lane, True, ctx.sender, ctx.now)
    await cases.put_member(ctx.db, room.case.id, ctx.sender, me.lane, False, ctx.sender, ctx.now)
    await room.audit("case.handed_over", to=user, lane=target.lane, was_coordinator=target.coordinator, note=note,
                     previous_lane=me.lane)
    await room.reload()
    await update_power_levels(room)
    # The team is told, mentioning everyone; the new coordinator learns where their worklist comes.
    text = room.t("handover.team", new=mention(user), old=mention(ctx.sender), label=view.label)
    if note:
        text += "\n\n" + room.t("handover.note", note=note)
    if (await desk.person(ctx.db, user)).direct_room is None:
        text += "\n\n" + room.t("handover.open_direct_chat", user=mention(user))
    await room.queue(reaching_content(text, [*view.members, user]))
    if me.lane is None:
        stays = ctx.t("handover.no_lane")
    else:
        stays = ctx.t("handover.your_lane", lane=view.pathway.lane(me.lane).name)
    return ctx.ok(ctx.t("handover.done", user=mention(user)) + " " + stays, coordinator=user, previous=ctx.sender)
