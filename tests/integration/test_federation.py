"""A care room federates only with the servers the region trusts, and its state says nothing about health;
rooms of an older release or setting are brought in step when the bot starts."""

from __future__ import annotations

from tests.integration.care import open_case, refused


def state_of(events: list[dict], event_type: str) -> dict:
    return next(e["content"] for e in events if e["type"] == event_type)


async def test_invite_refuses_other_servers_and_the_room_acl_follows_the_setting_at_start_up(make_bot, make_member):
    runner = await make_bot()
    anna = await make_member("anna")
    room, _ = await open_case(anna, runner, "orebro", "Sjostjerne")

    answer = await anna.command(room, "!invite @someone:elsewhere.example kommun")
    refused(answer, "localhost")
    assert answer.content["homeward.reason"] == "team.server_not_allowed"

    # The region adds a partner server; the bot restarts and brings the room's ACL in step.
    await runner.stop()
    runner.config = runner.config.model_copy(update={"allowed_servers": ["localhost", "partner.example"]})
    await runner.start()
    acl = await anna.wait_for(
        lambda s: s.room_id == room and s.type == "m.room.server_acl" and "partner.example" in s.content["allow"]
    )
    assert acl.content == {"allow": ["localhost", "partner.example"], "deny": [], "allow_ip_literals": False}


async def test_a_room_of_an_older_release_is_renamed_fixed_and_cleared_of_people_without_a_lane_at_start_up(
    make_bot, make_member
):
    runner = await make_bot()
    anna, olle = await make_member("anna"), await make_member("olle")
    room, _ = await open_case(anna, runner, "orebro", "Sjostjerne")
    # How an older Homeward left it: the pathway's title in the name, coordinators able to invite (and one who
    # invited Olle from Element, with no lane), no record of any of it.
    client = runner.bot.client
    await client.room_put_state(room, "m.room.name", {"name": "Sjostjerne · Utskrivningsprocess för barn och unga"})
    levels = state_of((await client.room_get_state(room)).events, "m.room.power_levels")
    await client.room_put_state(room, "m.room.power_levels", {**levels, "invite": 50})
    await anna.client.room_invite(room, olle.user_id)
    async with runner.bot.store.transaction() as db:
        await db.execute("DELETE FROM room_state")
    await runner.stop()
    before = {s.event_id for s in anna.seen}

    await runner.start()
    for event_type, key, value in (("m.room.power_levels", "invite", 100), ("m.room.name", "name", "Sjostjerne")):
        await anna.wait_for(
            lambda s, event_type=event_type, key=key, value=value: (
                s.event_id not in before and s.room_id == room and s.type == event_type and s.content.get(key) == value
            )
        )
    events = (await anna.client.room_get_state(room)).events
    assert state_of(events, "m.room.name") == {"name": "Sjostjerne"}
    assert "Utskrivning" not in state_of(events, "m.room.topic")["topic"]
    assert state_of(events, "m.room.power_levels")["users"][anna.user_id] == 50
    # Olle's invite from Element is withdrawn, and the coordinator told how to add him properly.
    told = await anna.wait_for(lambda s: s.room_id == room and s.content.get("homeward.removed") == olle.user_id)
    assert f"!invite {olle.user_id} <" in told.content["body"]
    await anna.wait_for_membership(room, olle.user_id, "leave")


async def test_a_user_id_with_markdown_and_link_characters_cannot_inject_a_link(make_bot, make_member):
    runner = await make_bot()
    anna = await make_member("anna")
    room, _ = await open_case(anna, runner, "orebro", "Sjostjerne")
    # Synapse registers no such localpart, but the spec's historical grammar (and a federated server) allows it
    # (anything printable but a colon): a protocol-relative link, emphasis and HTML.
    hostile = "@x](//evil.example/)[*y*_<b>:localhost"

    answers = [
        await anna.command(room, f"!role {hostile} kommun"),
        await anna.command(room, f"!invite {hostile} kommun"),
        await anna.command(room, "!team"),
    ]

    for answer in answers:
        html = answer.content["formatted_body"]
        assert 'href="//evil.example' not in html and "<b>" not in html and "<em>" not in html
        assert 'href="https://matrix.to/#/@x%5D%28%2F%2Fevil.example%2F%29%5B*y*_%3Cb%3E:localhost"' in html
