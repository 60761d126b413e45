"""The team follows the configuration and the room: state someone changed is put back, a redacted safeguard
message is posted again (on one homeserver; a server leaving `allowed_servers` is in
test_servers_leave.py, which needs two)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import aiohttp
from nio import RoomGetStateEventResponse, RoomRedactResponse

from tests.conftest import TEST_PASSWORD
from tests.harness import Member, Seen
from tests.integration.care import audit_trail, bring_in, mentioned, ok, open_case


async def make_room_admin(homeserver: str, admin: Member, room: str) -> None:
    """What a homeserver administrator can do in any room a local user has power in: Synapse's admin API gives
    them the power of the most powerful local member — here the bot — sending that change as the bot."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{homeserver}/_synapse/admin/v1/rooms/{room}/make_room_admin",
            headers={"Authorization": f"Bearer {admin.client.access_token}"},
            json={"user_id": admin.user_id},
        ) as response,
    ):
        assert response.status == 200, await response.text()


async def state(member: Member, room: str, event_type: str) -> dict:
    response = await member.client.room_get_state_event(room, event_type)
    assert isinstance(response, RoomGetStateEventResponse), response
    return response.content


async def state_becomes(member: Member, room: str, event_type: str, check, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        content = await state(member, room, event_type)
        if check(content) or time.monotonic() > deadline:
            return content
        await member.client.sync(timeout=0)


def restored(room: str, event_type: str, after: set[str]):
    def matches(s: Seen) -> bool:
        told = s.content.get("homeward.state_restored") or {}
        return s.room_id == room and s.event_id not in after and event_type in told.get("types", [])

    return matches


async def test_state_changed_by_a_homeserver_admin_made_room_admin_is_put_back_and_the_room_told(
    make_bot, make_member, new_user, synapse, tmp_path: Path
):
    bot = await make_bot()
    anna = await make_member("anna")
    room, _ = await open_case(anna, bot, "orebro", "Ekorre")
    admin_id, _ = await new_user(prefix="admin", admin=True)
    admin = await Member.login(synapse.url, admin_id, TEST_PASSWORD, tmp_path / "client-admin")
    try:
        await make_room_admin(synapse.url, admin, room)
        kept = await anna.wait_for(
            lambda s: (
                s.room_id == room
                and admin_id in (s.content.get("homeward.state_restored") or {}).get("unremovable", [])
            )
        )
        assert kept.content["msgtype"] == "m.text" and anna.user_id in mentioned(kept)  # the coordinator is told
        await admin.join(room)
        seen = {s.event_id for s in anna.seen}

        # The name, the ACL, the power levels and the topic, changed in the room: each put back, the room told.
        for event_type, content in (
            ("m.room.name", {"name": "Ekorre · Utskrivningsprocess för barn med hjärtfel"}),
            ("m.room.server_acl", {"allow": ["*"], "deny": [], "allow_ip_literals": True}),
            ("m.room.topic", {"topic": "Barn med hjärtfel, född 2019"}),
        ):
            before = await state(anna, room, event_type)
            sent = await admin.client.room_put_state(room, event_type, content)
            assert getattr(sent, "event_id", None), sent
            told = await anna.wait_for(restored(room, event_type, seen))
            assert told.content["homeward.state_restored"]["by"] == [admin_id]
            keys = [key for key in before if key != "m.topic"]  # the topic as the bot sets it: plain only
            back = await state_becomes(
                anna, room, event_type, lambda c, b=before, k=keys: all(c.get(x) == b[x] for x in k)
            )
            assert all(back.get(key) == before[key] for key in keys), back
        levels = await state(anna, room, "m.room.power_levels")
        sent = await admin.client.room_put_state(room, "m.room.power_levels", {**levels, "redact": 0, "kick": 0})
        assert getattr(sent, "event_id", None), sent
        await anna.wait_for(restored(room, "m.room.power_levels", seen))
        back = await state_becomes(anna, room, "m.room.power_levels", lambda c: c.get("redact") == 50)
        assert back["redact"] == 50 and back["kick"] == 50 and back["users"][admin_id] == 100

        # And while the bot is down: put back at its next start.
        await bot.stop()
        sent = await admin.client.room_put_state(room, "m.room.topic", {"topic": "Hjärtfel"})
        assert getattr(sent, "event_id", None), sent
        seen = {s.event_id for s in anna.seen}
        await bot.start()
        await anna.wait_for(restored(room, "m.room.topic", seen))
        topic = await state_becomes(anna, room, "m.room.topic", lambda c: c.get("topic") != "Hjärtfel")
        assert topic["topic"] != "Hjärtfel"

        rows = [json.loads(r["details"]) for r in await audit_trail(anna, room) if r["action"] == "room.state_restored"]
        assert {t for r in rows for t in r["types"]} == {
            "m.room.name",
            "m.room.server_acl",
            "m.room.topic",
            "m.room.power_levels",
        }
    finally:
        await admin.close()


async def test_a_redacted_safeguard_message_is_posted_again_and_a_colleagues_message_can_still_be_redacted(
    make_bot, make_member
):
    bot = await make_bot()
    anna, kari, mor = await make_member("anna"), await make_member("kari"), await make_member("mor")
    room, _ = await open_case(anna, bot, "sthf", "Maane")
    ok(await anna.command(room, f"!role {anna.user_id} sykehus coordinator"))
    await bring_in(anna, room, kari, "kommunen")
    await bring_in(anna, room, mor, "foresatt")
    ok(await mor.command(room, "!consent no dokumentasjon"))
    ok(await anna.command(room, f"!role {mor.user_id} familien"))
    moved = await mor.wait_for(lambda s: s.room_id == room and "homeward.answerer_moved" in s.content)

    # The coordinator removes the bot's announcement: it comes back, saying who removed it.
    redaction = await anna.client.room_redact(room, moved.event_id, reason="not needed")
    assert isinstance(redaction, RoomRedactResponse), redaction
    again = await mor.wait_for(
        lambda s: s.room_id == room and (s.content.get("homeward.reposted") or {}).get("redacted") == moved.event_id
    )
    assert again.content["homeward.answerer_moved"] == moved.content["homeward.answerer_moved"]
    assert set(mentioned(again)) == set(mentioned(moved)) and again.content["msgtype"] == "m.text"
    assert again.content["homeward.reposted"]["by"] == anna.user_id and anna.user_id in again.content["body"]
    rows = [json.loads(r["details"]) for r in await audit_trail(anna, room) if r["action"] == "safeguard.redacted"]
    assert rows == [{"kind": "answerer_moved", "redacted_event": moved.event_id, "reposted": True}]

    # A colleague's mistaken message: the coordinator can still remove it, and it stays removed.
    mistake = await kari.send(room, "Feil rom, beklager")
    removed = await anna.client.room_redact(room, mistake, reason="wrong room")
    assert isinstance(removed, RoomRedactResponse), removed
    ok(await anna.command(room, "!team"))  # the bot has handled the redaction by the time it answers this
    assert not [s for s in anna.seen if (s.content.get("homeward.reposted") or {}).get("redacted") == mistake]
    # The bot's own changes of the room's state (a coordinator's power levels) are never taken for someone else's.
    assert not [s for s in anna.seen if "homeward.state_restored" in s.content]
