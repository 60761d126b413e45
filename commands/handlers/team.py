"""The care team: `!invite`, `!role`, `!team`, `!handover`. Lanes give people their part in the pathway.

Who may be put in which lane is decided in `care.team` (no guardian coordinates, nobody
puts themselves into the family's lanes, the last coordinator stays). What the room's
state says about the team (power levels) follows in `work.room_state`.
"""

from __future__ import annotations

from homeward.care.arrival import acting_for
from homeward.care.case import find_lane
from homeward.care.pathway import Lane
from homeward.care.permissions import COORDINATOR, COORDINATOR_OR_CARE_WITHOUT_ONE, MEMBER
from homeward.care.team import CONSENT_ROLES, check_placement
from homeward.commands.arguments import person_arg
from homeward.commands.context import Context, Reply
from homeward.commands.registry import ANY_STATE, CASE_ROOM, Arg, CommandError, Section, command
from homeward.matrix.content import alert_content
from homeward.store import cases, consents, outbox
from homeward.store import people as people_rows
from homeward.text import code, escape, mention, mentions
from homeward.work.care_room import CareRoom
from homeward.work.consents import announce_answerer_moved, ask_person, ensure_rounds, lane_entered, lane_left, states
from homeward.work.room_state import keep_in_step


def invitee_arg(text: str, ctx: Context) -> str:
    """A Matrix user id on a server the region trusts (`allowed_servers`): care rooms federate with no other."""
    user = person_arg(text, ctx)
    config = ctx.services.config
    if not config.server_allowed(user):
        raise CommandError(
            "team.server_not_allowed", user=mention(user), servers=", ".join(config.allowed_servers or [])
        )
    return user


def coordinator_arg(text: str, ctx: Context) -> bool:
    if text.strip().lower() not in ctx.services.catalog.words("coordinator"):
        raise CommandError("team.bad_flag", usage=True, word=text[:40])
    return True


async def update_power_levels(room: CareRoom) -> None:
    """Room power levels follow the coordinator flags.

    The bot is highest (and the only one who invites); coordinators remove.
    """
    await room.reload()
    await keep_in_step(room)


async def _set_member(ctx: Context, user: str, lane: Lane, coordinator: bool, action: str) -> None:
    """Put `user` in `lane`, audited; power levels follow, and a move of someone who answered a consent is announced."""
    room = ctx.care
    check_placement(room.view, ctx.sender, user, lane, coordinator)
    await ensure_rounds(room)  # who must answer each asked consent, measured before the change
    view = room.view
    before = view.members.get(user)
    states_before = states(room, await consents.answers(ctx.db, room.case.id))
    await cases.put_member(ctx.db, room.case.id, user, lane.id, coordinator, ctx.sender, ctx.now)
    await room.audit(
        action,
        user=user,
        lane=lane.id,
        coordinator=coordinator,
        previous_lane=before.lane if before else None,
        previous_coordinator=before.coordinator if before else None,
    )
    if coordinator != (before.coordinator if before else False):
        await update_power_levels(room)
    if before is not None and before.lane != lane.id:
        await room.reload()
        await announce_answerer_moved(room, user, before.lane, lane.id)
        # Out of an answering lane before a consent was given: asked again of those who remain.
        await lane_left(room, user, before.lane, lane.id, states_before)
    if lane.role in CONSENT_ROLES and (before is None or before.lane != lane.id):
        # Into the family's answering lanes: they answer too, and the guardians already there are told.
        await room.reload()
        await lane_entered(room, user, lane.id)


@command(
    "invite",
    args=[
        Arg("user", invitee_arg, metavar="@user:server"),
        Arg("lane"),
        Arg("coordinator", coordinator_arg, optional=True),
    ],
    where=CASE_ROOM,
    rule=COORDINATOR,
    help_section=Section.TEAM,
)
async def invite(ctx: Context) -> Reply:
    """Invite a person into the care room with a lane (and optionally coordinator rights)."""
    room = ctx.care
    user, coordinator = ctx.args["user"], bool(ctx.args["coordinator"])
    if user == ctx.services.config.user_id:
        raise CommandError("team.not_the_bot")
    lane = find_lane(room.view, ctx.args["lane"])
    await _set_member(ctx, user, lane, coordinator, "member.added")

    async def invite_them() -> None:
        invite = await room.queue({"user_id": user}, event_type="m.room.member", kind=outbox.INVITE)
        await cases.set_invite_row(ctx.db, room.case.id, user, invite)  # what they can read starts here (work.joins)
        if lane.role in CONSENT_ROLES:
            # A guardian (or the young person) joins: ask for the consents they answer that are not given yet.
            await room.reload()
            await ask_person(room, user)

    # The invite goes after the answer: sent before it, the answer is outside the newcomer's history (they
    # are greeted instead). Still no reply: someone invited just before may not see this command. It names
    # the coordinator instead.
    room.after_answer(invite_them)
    key = "team.invited_coordinator" if coordinator else "team.invited"
    return Reply(ctx.t(key, by=mention(ctx.sender), user=mention(user), lane=lane.name), quotes=False)


@command(
    "role",
    args=[
        Arg("user", person_arg, metavar="@user:server"),
        Arg("lane"),
        Arg("coordinator", coordinator_arg, optional=True),
    ],
    where=CASE_ROOM,
    rule=COORDINATOR_OR_CARE_WITHOUT_ONE,
    help_section=Section.TEAM,
)
async def role(ctx: Context) -> Reply:
    """Change a member's lane or coordinator flag (while a case has no coordinator, a care lane names one)."""
    room = ctx.care
    user, coordinator = ctx.args["user"], bool(ctx.args["coordinator"])
    before = room.view.members.get(user)
    if before is None:
        raise CommandError("team.not_member", user=mention(user))
    lane = find_lane(room.view, ctx.args["lane"])
    await _set_member(ctx, user, lane, coordinator, "member.changed")
    if lane.role in CONSENT_ROLES and before.lane != lane.id:
        # Now one of those who answer: ask them, as `!invite` into the lane does.
        await room.reload()
        await ask_person(room, user)
    key = "team.role_coordinator" if coordinator else "team.role"
    return ctx.ok(ctx.t(key, user=mention(user), lane=lane.name))


@command("team", where=CASE_ROOM, rule=MEMBER, state=ANY_STATE, help_section=Section.TEAM)
async def team(ctx: Context) -> Reply:
    """List the members of the case with their lanes."""
    view = ctx.care.view
    lines = []
    for lane in view.pathway.lanes:  # every lane: one with nobody in it is said out loud, with how to fill it
        people = [m for m in view.members.values() if m.lane == lane.id]
        if people:
            names = ", ".join(
                mention(m.user_id) + (" ★" if m.coordinator else "") for m in sorted(people, key=lambda m: m.user_id)
            )
        elif acting_for(view, lane.id):  # the family's lane: the guardians (or the young person) act for it
            names = ctx.t("checklist.acted_for", people=mentions(acting_for(view, lane.id)))
        else:
            names = ctx.t("team.lane_empty", lane=lane.id)
        lines.append(f"- **{escape(lane.name)}** ({code(lane.id)}): {names}")
    laneless = [m for m in view.members.values() if m.lane is None]
    if laneless:
        lines.append(
            f"- **{ctx.t('team.no_lane')}**: "
            + ", ".join(mention(m.user_id) + (" ★" if m.coordinator else "") for m in laneless)
        )
    members = [{"user": m.user_id, "lane": m.lane, "coordinator": m.coordinator} for m in view.members.values()]
    text = ctx.t("team.title", label=view.label) + "\n\n" + "\n".join(lines) + "\n\n" + ctx.t("team.legend")
    return ctx.ok(text, team=members)


@command(
    "handover",
    args=[Arg("user", person_arg, metavar="@user:server"), Arg("note", optional=True, rest=True)],
    where=CASE_ROOM,
    rule=COORDINATOR,
    help_section=Section.TEAM,
)
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
    if target.lane is not None:
        # The rules of `!role` hold: nobody in a guardian or child lane coordinates (care.team).
        check_placement(view, ctx.sender, user, view.pathway.lane(target.lane), True)
    me = room.member
    assert me is not None  # the gate let a coordinator of the case through
    await cases.put_member(ctx.db, room.case.id, user, target.lane, True, ctx.sender, ctx.now)
    await cases.put_member(ctx.db, room.case.id, ctx.sender, me.lane, False, ctx.sender, ctx.now)
    await room.audit(
        "case.handed_over",
        to=user,
        lane=target.lane,
        was_coordinator=target.coordinator,
        note=note,
        previous_lane=me.lane,
    )
    await room.reload()
    await update_power_levels(room)
    # The team is told; the new coordinator, who must act now, is notified and learns where their worklist comes.
    text: str = room.t("handover.team", new=mention(user), old=mention(ctx.sender), label=view.label)
    if note:
        text += "\n\n" + room.t("handover.note", note=note)
    if (await people_rows.person(ctx.db, user)).direct_room is None:
        text += "\n\n" + room.t("handover.open_direct_chat", user=mention(user))
    await room.queue(alert_content(text, [user]))
    if me.lane is None:
        stays = ctx.t("handover.no_lane")
    else:
        stays = ctx.t("handover.your_lane", lane=view.pathway.lane(me.lane).name)
    return ctx.ok(ctx.t("handover.done", user=mention(user)) + " " + stays, coordinator=user, previous=ctx.sender)
