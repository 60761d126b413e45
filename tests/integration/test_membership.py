"""Membership is followed: leaving or being removed ends a person's place on the team, only the bot
invites, nobody stays in a care room without a lane, and a case never silently loses its last coordinator."""

from __future__ import annotations

import json

from nio import RoomInviteError

from tests.integration.care import audit_trail, bring_in, mentioned, ok, open_case, refused


async def test_a_member_who_leaves_or_is_removed_loses_lane_power_and_reminders(make_bot, make_member):
    bot = await make_bot()
    anna, karin, olle = await make_member("anna"), await make_member("karin"), await make_member("olle")
    room, _ = await open_case(anna, bot, "orebro", "Sjostjerne")
    ok(await anna.command(room, f"!role {anna.user_id} slutenvard coordinator"))
    await bring_in(anna, room, karin, "kommun", "coordinator")
    await bring_in(anna, room, olle, "oppenvard")
    ok(await olle.command(room, "!remind konsultation in 2h"))
    ok(await anna.command(room, f"!assign inskrivningsmeddelande {olle.user_id}"))

    # Olle is removed from Element by a coordinator; Karin, a coordinator, leaves by herself.
    await anna.client.room_kick(room, olle.user_id)
    await karin.client.room_leave(room)
    levels = await anna.wait_for(
        lambda s: s.room_id == room and s.type == "m.room.power_levels" and karin.user_id not in s.content["users"]
    )

    assert levels.content["users"] == {bot.user_id: 100, anna.user_id: 50}  # Karin's coordinator power is gone
    team = (await anna.command(room, "!team")).content["homeward.team"]
    assert [m["user"] for m in team] == [anna.user_id]
    reminders = (await anna.command(room, "!reminders")).content["homeward.reminders"]
    assert [r for r in reminders if r["kind"] == "custom"] == []  # Olle's own reminder is cancelled
    rows = [
        json.loads(r["details"]) | {"actor": r["actor"]}
        for r in await audit_trail(anna, room)
        if r["action"] == "member.left"
    ]
    assert [(r["user"], r["how"], r["actor"], r["previous_lane"]) for r in rows] == [
        (olle.user_id, "removed", anna.user_id, "oppenvard"),
        (karin.user_id, "left", karin.user_id, "kommun"),
    ]


async def test_only_the_bot_invites_and_someone_in_the_room_without_a_lane_is_removed(make_bot, make_member):
    bot = await make_bot()
    anna, olle = await make_member("anna"), await make_member("olle")
    room, _ = await open_case(anna, bot, "orebro", "Sjostjerne")
    await bring_in(anna, room, olle, "oppenvard")
    await olle.wait_for(lambda s: s.room_id == room and "homeward.checklist" in s.content)  # posted again for him
    await anna.client.room_kick(room, olle.user_id)
    await anna.wait_for(
        lambda s: s.room_id == room and s.type == "m.room.member" and s.content.get("membership") == "leave"
    )

    # A coordinator cannot invite from Element (no lane would be recorded): only the bot invites.
    assert isinstance(await anna.client.room_invite(room, olle.user_id), RoomInviteError)

    # Someone invited anyway (here by the bot's own account, outside `!invite`) comes back without a lane:
    # their old place is not restored, and the bot removes them at once and tells the coordinators.
    await bot.bot.client.room_invite(room, olle.user_id)
    checklists_before = {s.event_id for s in anna.seen if "homeward.checklist" in s.content}
    await olle.join(room)
    told = await anna.wait_for(lambda s: s.room_id == room and s.content.get("homeward.removed") == olle.user_id)
    assert mentioned(told) == [anna.user_id] and f"!invite {olle.user_id} <" in told.content["body"]
    assert told.content["msgtype"] == "m.text"  # an m.text: an m.notice would notify nobody (render.alert_content)
    await anna.wait_for_membership(room, olle.user_id, "leave")
    assert [m["user"] for m in (await anna.command(room, "!team")).content["homeward.team"]] == [anna.user_id]
    checklists = {s.event_id for s in anna.seen + olle.seen if "homeward.checklist" in s.content}
    assert checklists == checklists_before  # no checklist posted for them
    actions = [r["action"] for r in await audit_trail(anna, room)]
    assert "member.removed_without_lane" in actions


async def test_the_last_coordinator_cannot_step_down_and_when_they_leave_the_care_lanes_are_asked_to_name_one(
    make_bot, make_member
):
    bot = await make_bot()
    anna, karin, mor = await make_member("anna"), await make_member("karin"), await make_member("mor")
    room, _ = await open_case(anna, bot, "orebro", "Sjostjerne")
    await bring_in(anna, room, karin, "kommun")
    await bring_in(anna, room, mor, "vardnadshavare")

    refused(await anna.command(room, f"!role {anna.user_id} slutenvard"), "samordnare")  # the last one: refused
    refused(await karin.command(room, f"!role {karin.user_id} kommun coordinator"))  # not while Anna coordinates

    await anna.client.room_leave(room)
    asked = await karin.wait_for(lambda s: s.room_id == room and s.content.get("homeward.needs_coordinator"))
    assert mentioned(asked) == [karin.user_id]  # the care lanes, not the guardian
    assert asked.content["msgtype"] == "m.text"  # an m.text: an m.notice would notify nobody (render.alert_content)
    assert "!role" in asked.content["body"]

    refused(
        await mor.command(room, f"!role {mor.user_id} vardnadshavare coordinator")
    )  # a guardian does not coordinate
    refused(await karin.command(room, f"!role {mor.user_id} kommun"))  # only naming a coordinator, nothing else
    ok(await karin.command(room, f"!role {karin.user_id} kommun coordinator"))
    levels = await karin.wait_for(
        lambda s: s.room_id == room and s.type == "m.room.power_levels" and karin.user_id in s.content["users"]
    )
    assert levels.content["users"][karin.user_id] == 50
    ok(await karin.command(room, "!plan discharge 2027-01-15"))  # the case runs again
