"""Only encrypted commands act in a care room, and a reaction acknowledges only for the reacting person's own lane."""

from __future__ import annotations

import json

from tests.harness import reply_target
from tests.integration.care import audit_trail, bring_in, item, ok, open_case, refused


async def test_an_unencrypted_command_in_a_care_room_is_not_run_but_answered_once_encrypted_and_audited(
    make_bot, make_member
):
    bot = await make_bot()
    ingrid = await make_member("ingrid")
    room, _ = await open_case(ingrid, bot, "sthf", "Maane")

    # What someone holding Ingrid's access token but none of her device keys can send.
    sent = await ingrid.send_unencrypted(room, "!phase next force nobody is looking")
    answer = await ingrid.wait_for(lambda s: reply_target(s) == sent)

    assert answer.encrypted
    refused(answer, "ukryptert", ingrid.user_id)  # a Norwegian room
    assert answer.content["homeward.reason"] == "error.unencrypted"
    assert "nobody is looking" not in answer.content["body"]
    status = await ingrid.command(room, "!status")
    assert status.content["homeward.case"]["phase"] == "planlegge-utskrivning"  # not moved on
    assert len(ingrid.replies_to(sent)) == 1
    attempts = [r for r in await audit_trail(ingrid, room) if r["action"] == "command.unencrypted_refused"]
    assert [(r["actor"], json.loads(r["details"])["command"]) for r in attempts] == [(ingrid.user_id, "phase")]


async def test_a_coordinators_reaction_never_acknowledges_on_behalf_of_another_lane(make_bot, make_member):
    bot = await make_bot()
    anna, karin, olle = await make_member("anna"), await make_member("karin"), await make_member("olle")
    room, _ = await open_case(anna, bot, "orebro", "Sjostjerne")
    ok(await anna.command(room, f"!role {anna.user_id} slutenvard coordinator"))
    await bring_in(anna, room, karin, "kommun")
    await bring_in(anna, room, olle, "oppenvard")
    ok(await anna.command(room, "!send inskrivningsmeddelande"))
    notice = await karin.wait_for(lambda s: s.content.get("homeward.notice") == "inskrivningsmeddelande")
    ok(await karin.command(room, "!ack inskrivningsmeddelande"))  # only Öppenvård is missing now

    def react(member, key: str):
        return member.send_event(
            room, "m.reaction", {"m.relates_to": {"rel_type": "m.annotation", "event_id": notice.event_id, "key": key}}
        )

    # The coordinator's 👍 is for their own lane (Slutenvård sends this notice, it does not receive it):
    # nothing acknowledged, and why.
    thumbs = await react(anna, "👍")
    why = await anna.wait_for(lambda s: s.content.get("homeward.reason") == "care.reaction_own_lane_only")
    assert reply_target(why) == notice.event_id and "!ack inskrivningsmeddelande" in why.content["body"]
    assert [a["lane"] for a in item(await anna.command(room, "!status"), "inskrivningsmeddelande")["acks"]] == [
        "kommun"
    ]

    # The receiving lane's own ✅ acknowledges, for that lane, not on behalf.
    await react(olle, "✅")
    done = await olle.wait_for(
        lambda s: (
            s.content.get("homeward.command") == "ack"
            and s.content.get("homeward.status") == "ok"
            and s.content.get("homeward.lane") == "oppenvard"
        )
    )
    acks = item(await anna.command(room, "!status"), "inskrivningsmeddelande")["acks"]
    assert [(a["lane"], a["user"], a["on_behalf"]) for a in acks] == [
        ("kommun", karin.user_id, False),
        ("oppenvard", olle.user_id, False),
    ]
    assert done.content["homeward.state"] == "done" and thumbs
