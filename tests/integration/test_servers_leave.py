"""A server taken out of `allowed_servers`: at the bot's next start its users leave every care team and room.

Two federating Synapses, as in test_two_homeservers.py (its fixture and helpers): the bot and the
coordinator on the hospital's server, a municipal case officer (also a coordinator) and a guardian on
the municipality's. The region then stops trusting the municipality's server.
"""

from __future__ import annotations

import json
import uuid

from nio import RoomGetStateEventResponse

from homeward.config import Config
from tests.harness import BotRunner
from tests.integration.care import audit_trail, mentioned, ok
from tests.integration.test_two_homeservers import (  # noqa: F401 (the module's fixture)
    FEDERATED_TIMEOUT,
    HOSPITAL,
    KOMMUN,
    PASSWORD,
    Region,
    _join_over_federation,
    region,
)


async def test_the_users_of_a_server_no_longer_allowed_are_removed_at_start_up_told_and_audited(
    region: Region,  # noqa: F811 (the fixture imported above)
):
    bot_id = await region.hospital.register(f"homeward-{uuid.uuid4().hex[:6]}", PASSWORD)
    config = Config.model_validate(
        {
            "homeserver": region.hospital.url,
            "user_id": bot_id,
            "password": PASSWORD,
            "data_dir": region.base / "bot-servers",
            "language": "sv",
            "timezone": "Europe/Stockholm",
            "allowed_inviters": [f"*:{region.hospital.server_name}"],
            "allowed_servers": [HOSPITAL, KOMMUN],
            "case_openers": [f"*:{region.hospital.server_name}"],
        }
    )
    bot = BotRunner(config)
    await bot.start()
    anna = await region.member(region.hospital, "anna")
    karin = await region.member(region.kommun, "karin")
    greta = await region.member(region.kommun, "greta")
    try:
        dm = await anna.create_room(invite=[bot.user_id])
        await anna.wait_for_membership(dm, bot.user_id, "join")
        await anna.know_devices(dm)
        opened = await anna.command(dm, "!case new orebro Sjostjerne")
        ok(opened)
        room = opened.content["homeward.room_id"]
        await anna.join(room)
        await anna.wait_for(lambda s: s.room_id == room and "homeward.checklist" in s.content)
        ok(await anna.command(room, f"!role {anna.user_id} slutenvard coordinator"))
        ok(await anna.command(room, f"!invite {karin.user_id} kommun coordinator"))
        await _join_over_federation(karin, room)
        ok(await anna.command(room, f"!invite {greta.user_id} vardnadshavare"))
        await _join_over_federation(greta, room)
        await bot.stop()

        # The region stops trusting the municipality's server; the bot starts again.
        bot = BotRunner(config.model_copy(update={"allowed_servers": [HOSPITAL]}))
        await bot.start()
        told = await anna.wait_for(lambda s: s.room_id == room and "homeward.removed_server" in s.content)
        assert sorted(told.content["homeward.removed_server"]) == sorted([karin.user_id, greta.user_id])
        assert told.content["msgtype"] == "m.text" and mentioned(told) == [anna.user_id]
        for person in (karin, greta):
            await anna.wait_for_membership(room, person.user_id, "leave", timeout=FEDERATED_TIMEOUT)
        team = await anna.command(room, "!team")
        assert {m["user"] for m in team.content["homeward.team"]} == {anna.user_id}
        levels = await anna.client.room_get_state_event(room, "m.room.power_levels")
        assert isinstance(levels, RoomGetStateEventResponse) and karin.user_id not in levels.content["users"]
        acl = await anna.client.room_get_state_event(room, "m.room.server_acl")
        assert isinstance(acl, RoomGetStateEventResponse) and KOMMUN not in acl.content["allow"]
        rows = [
            json.loads(r["details"])
            for r in await audit_trail(anna, room)
            if r["action"] == "member.removed_server_not_allowed"
        ]
        assert sorted((r["user"], r["previous_lane"], r["previous_coordinator"]) for r in rows) == sorted(
            [(karin.user_id, "kommun", True), (greta.user_id, "vardnadshavare", False)]
        )
    finally:
        await bot.stop()
        for person in (anna, karin, greta):
            await person.close()
