"""The bot trusts people through their verified devices, as Element does with "exclude insecure devices".

A member's device is trusted while their own cross-signing identity signs it, that identity
pinned the first time the bot saw it. Tried here as the issue tried it from outside: the
administrator of a member's homeserver sets the member's password without signing anyone out
and logs in — a new device of the member's account that the member never verified. On the
code before this issue, that device decrypted the bot's next message, and its encrypted
`!consent yes` was recorded as the guardian's consent.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

from nio import Api, RoomSendResponse

from tests.conftest import TEST_PASSWORD
from tests.harness import BotRunner, Member, Seen, admin_device, reply_target
from tests.integration.care import audit_trail, bring_in, mentioned, ok, open_case
from tests.integration.conftest import MakeBot, MakeMember

UNREADABLE_FOR_S = 3.0  # how long a message must stay undecryptable (a room key arrives within a second here)


async def stays_unreadable(member: Member, event_id: str) -> None:
    """`member`'s device received the event and never got its room key."""
    await member.wait_for(lambda s: s.event_id == event_id)
    await asyncio.sleep(UNREADABLE_FOR_S)
    assert {s.type for s in member.seen if s.event_id == event_id} == {"undecryptable"}


async def readable(member: Member, event_id: str) -> Seen:
    return await member.wait_for(lambda s: s.event_id == event_id and s.type != "undecryptable")


async def bot_knows_device(bot: BotRunner, user_id: str, device_id: str) -> None:
    """Until the bot's nio has the device in its store (the bot learned of the new login)."""
    client = bot.running.client
    assert client is not None
    for _ in range(200):
        if device_id in client.device_store[user_id]:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the bot never learned of device {device_id}")


async def consent_state(coordinator: Member, room: str, consent: str) -> tuple[str, list[tuple[str, str]]]:
    listing = await coordinator.command(room, "!consents")
    entry = next(x for x in listing.content["homeward.consents"] if x["id"] == consent)
    return entry["state"], [(a["user"], a["answer"]) for a in entry["answers"]]


async def request_for(member: Member, room: str, consent: str) -> Seen:
    return await member.wait_for(
        lambda s: (
            s.room_id == room
            and s.content.get("homeward.consent_request") == consent
            and member.user_id in mentioned(s)
        )
    )


async def test_a_device_the_homeserver_administrator_made_reads_nothing_and_its_consent_acts_on_nothing(
    module_bot: BotRunner, make_member: MakeMember, synapse: Any, new_user: Any, tmp_path: Path
) -> None:
    bot = module_bot
    ingrid, mor = await make_member("ingrid"), await make_member("mor")
    room, _ = await open_case(ingrid, bot, "sthf", "Maane")
    ok(await ingrid.command(room, f"!role {ingrid.user_id} sykehus coordinator"))
    await bring_in(ingrid, room, mor, "foresatt")
    request = await request_for(mor, room, "dokumentasjon")
    greeting = await mor.wait_for(lambda s: s.content.get("homeward.greeting_details") == mor.user_id)
    assert "ny innlogging" not in greeting.content["body"].lower()  # what a new login needs is said to care staff

    impostor, _ = await admin_device(synapse, new_user, mor.user_id, tmp_path / "impostor")
    await bot_knows_device(bot, mor.user_id, impostor.device_id)

    # The bot's next message: the guardian's own (verified) device reads it, the new device never gets its key.
    status = await ingrid.command(room, "!status")
    await readable(mor, status.event_id)
    await stays_unreadable(impostor, status.event_id)

    # Its encrypted `!consent yes` and its "ja" in reply to the request act on nothing.
    typed = await impostor.send(room, "!consent yes dokumentasjon")
    refusal = await mor.wait_for(lambda s: reply_target(s) == typed)
    assert refusal.content["homeward.status"] == "error"
    assert refusal.content["homeward.reason"] == "trust.refused_unsigned"
    assert impostor.device_id in refusal.content["body"] and "ikke verifisert" in refusal.content["body"]
    # The answer is the one message that device may read: it says how to verify it.
    assert (await readable(impostor, refusal.event_id)).content["homeward.reason"] == "trust.refused_unsigned"
    replied = await impostor.send(room, "ja", {"m.relates_to": {"m.in_reply_to": {"event_id": request.event_id}}})
    assert await consent_state(ingrid, room, "dokumentasjon") == ("pending", [])
    assert mor.replies_to(replied) == [] and len(mor.replies_to(typed)) == 1  # told once per device

    # After that one answer, the bot's messages are closed to it again; the guardian's own answer counts.
    after = await ingrid.command(room, "!status")
    await stays_unreadable(impostor, after.event_id)
    own = await mor.command(room, "!consent yes dokumentasjon")
    ok(own)
    assert await consent_state(ingrid, room, "dokumentasjon") == ("given", [(mor.user_id, "yes")])

    refused = [r for r in await audit_trail(ingrid, room) if r["action"] == "command.untrusted_device_refused"]
    assert [(r["actor"], json.loads(r["details"])["command"]) for r in refused] == [
        (mor.user_id, "consent"),  # as typed
        (mor.user_id, "consent yes"),  # the reply, run as the command
    ]
    assert {json.loads(r["details"])["device"] for r in refused} == {impostor.device_id}
    seen = [r for r in await audit_trail(ingrid, room) if r["action"] == "device.unverified_seen"]
    assert [json.loads(r["details"])["device"] for r in seen] == [impostor.device_id]
    await impostor.close()


async def test_a_device_the_homeserver_administrator_made_cannot_acknowledge_with_ack_or_a_reaction(
    module_bot: BotRunner, make_member: MakeMember, synapse: Any, new_user: Any, tmp_path: Path
) -> None:
    bot = module_bot
    anna, karin = await make_member("anna"), await make_member("karin")
    room, _ = await open_case(anna, bot, "orebro", "Sjostjerne")
    ok(await anna.command(room, f"!role {anna.user_id} slutenvard coordinator"))
    await bring_in(anna, room, karin, "kommun")
    ok(await anna.command(room, "!send inskrivningsmeddelande"))
    notice = await karin.wait_for(lambda s: s.content.get("homeward.notice") == "inskrivningsmeddelande")

    impostor, _ = await admin_device(synapse, new_user, karin.user_id, tmp_path / "impostor")
    await bot_knows_device(bot, karin.user_id, impostor.device_id)

    ack = await impostor.send(room, "!ack inskrivningsmeddelande")
    refusal = await karin.wait_for(lambda s: reply_target(s) == ack)
    assert refusal.content["homeward.reason"] == "trust.refused_unsigned"
    # A reaction is sent in clear and names no device: while the account has a device it has not
    # verified, no ✅ of the account counts (the verified one's neither), and it says why, once.
    await impostor.send_event(
        room, "m.reaction", {"m.relates_to": {"rel_type": "m.annotation", "event_id": notice.event_id, "key": "✅"}}
    )
    why = await karin.wait_for(lambda s: s.content.get("homeward.reason") == "trust.refused_reaction")
    assert impostor.device_id in why.content["body"] and "!ack inskrivningsmeddelande" in why.content["body"]
    status = await anna.command(room, "!status")
    item = next(i for i in status.content["homeward.case"]["items"] if i["id"] == "inskrivningsmeddelande")
    assert item["acks"] == []

    # Karin's own verified device acknowledges by typing.
    ok(await karin.command(room, "!ack inskrivningsmeddelande"))
    await impostor.close()


async def test_a_members_second_device_verified_with_their_identity_reads_the_next_message_and_its_commands_work(
    module_bot: BotRunner, make_member: MakeMember, synapse: Any, tmp_path: Path
) -> None:
    bot = module_bot
    anna, karin = await make_member("anna"), await make_member("karin")
    room, _ = await open_case(anna, bot, "orebro", "Sjostjerne")
    ok(await anna.command(room, f"!role {anna.user_id} slutenvard coordinator"))
    await bring_in(anna, room, karin, "kommun")
    pinned = await karin.wait_for(lambda s: "homeward.checklist" in s.content and s.room_id == room)
    ok(await anna.command(room, "!send inskrivningsmeddelande"))
    # Her greeting (care staff) said it once, in its details (the message naming nobody after the short
    # greeting): a new login must be verified first; Secure Backup reads the past.
    greeting = await karin.wait_for(lambda s: s.content.get("homeward.greeting_details") == karin.user_id)
    assert greeting.content["body"].count("En ny inloggning") == 1 and "Secure Backup" in greeting.content["body"]

    # A second login on a ward computer, verified with her identity (her recovery key), asks at once:
    # the bot asks for her keys again when a command comes from a device it does not trust yet.
    second = await Member.login(synapse.url, karin.user_id, TEST_PASSWORD, tmp_path / "second")
    status = await second.command(room, "!status")
    ok(status)
    assert status.encrypted and status.type == "m.room.message"  # read on the device that asked
    ok(await second.command(room, "!ack inskrivningsmeddelande"))

    # The pinned checklist, which the new login cannot read, comes again, quietly, pinned; the old one
    # points to it.
    fresh = await second.wait_for(
        lambda s: (
            "homeward.checklist" in s.content and s.event_id != pinned.event_id and "m.new_content" not in s.content
        )
    )
    assert fresh.content["msgtype"] == "m.notice" and fresh.content["m.mentions"] == {}
    pointer = await karin.wait_for(
        lambda s: (
            (s.content.get("m.relates_to") or {}).get("event_id") == pinned.event_id
            and "homeward.checklist" not in (s.content.get("m.new_content") or {})
        )
    )
    assert "flyttats" in pointer.content["m.new_content"]["body"]

    # A third verified login the same day brings no third checklist: once a day per room.
    third = await Member.login(synapse.url, karin.user_id, TEST_PASSWORD, tmp_path / "third")
    ok(await third.command(room, "!status"))
    await asyncio.sleep(1.0)
    checklists = {
        s.event_id
        for s in karin.seen  # since her invite (anna also saw the one from before it)
        if "homeward.checklist" in s.content and s.room_id == room and "m.new_content" not in s.content
    }
    assert checklists == {pinned.event_id, fresh.event_id}
    for member in (second, third):
        await member.close()


async def test_after_a_master_key_reset_nothing_of_theirs_acts_until_a_coordinator_restores_trust(
    module_bot: BotRunner, make_member: MakeMember
) -> None:
    bot = module_bot
    ingrid, mor, far = await make_member("ingrid"), await make_member("mor"), await make_member("far")
    room, _ = await open_case(ingrid, bot, "sthf", "Maane")
    ok(await ingrid.command(room, f"!role {ingrid.user_id} sykehus coordinator"))
    await bring_in(ingrid, room, mor, "foresatt")
    await bring_in(ingrid, room, far, "foresatt")
    await request_for(mor, room, "dokumentasjon")

    await mor.reset_identity(TEST_PASSWORD)
    # The room is told: the coordinator and the other guardian, by name.
    told = await ingrid.wait_for(lambda s: s.content.get("homeward.identity_changed") == mor.user_id)
    assert set(mentioned(told)) == {ingrid.user_id, far.user_id}
    assert f"!trust {mor.user_id}" in told.content["body"]

    refused = await mor.command(room, "!consent yes dokumentasjon")
    assert refused.content["homeward.reason"] == "trust.refused_identity_changed"
    assert await consent_state(ingrid, room, "dokumentasjon") == ("pending", [])
    # The other guardian cannot restore it; the coordinator can.
    assert (await far.command(room, f"!trust {mor.user_id}")).content["homeward.status"] == "error"
    restored = await ingrid.command(room, f"!trust {mor.user_id}")
    ok(restored)
    given = await mor.command(room, "!consent yes dokumentasjon")
    ok(given)
    assert await consent_state(ingrid, room, "dokumentasjon") == ("pending", [(mor.user_id, "yes")])
    actions = [r["action"] for r in await audit_trail(ingrid, room) if r["action"].startswith("identity.")]
    assert actions.count("identity.changed") == 1 and actions.count("identity.restored") == 1


async def test_a_reply_whose_clear_wrapper_points_at_a_consent_request_but_whose_ciphertext_does_not_answers_nothing(
    module_bot: BotRunner, make_member: MakeMember
) -> None:
    bot = module_bot
    ingrid, mor = await make_member("ingrid"), await make_member("mor")
    room, _ = await open_case(ingrid, bot, "sthf", "Maane")
    ok(await ingrid.command(room, f"!role {ingrid.user_id} sykehus coordinator"))
    await bring_in(ingrid, room, mor, "foresatt")
    request = await request_for(mor, room, "dokumentasjon")

    # "ja", encrypted with no relation inside; the relation to the request only in the clear wrapper,
    # where the sender's homeserver could have put it.
    rewritten = await send_with_relation_outside(
        mor, room, {"msgtype": "m.text", "body": "ja"}, {"m.in_reply_to": {"event_id": request.event_id}}
    )
    assert await consent_state(ingrid, room, "dokumentasjon") == ("pending", [])
    assert mor.replies_to(rewritten) == []
    # The same reply with its relation inside the ciphertext (as Element sends it) answers.
    inside = await mor.send(room, "ja", {"m.relates_to": {"m.in_reply_to": {"event_id": request.event_id}}})
    ok(await mor.wait_for(lambda s: reply_target(s) == inside and s.sender == bot.user_id))
    assert await consent_state(ingrid, room, "dokumentasjon") == ("given", [(mor.user_id, "yes")])


async def send_with_relation_outside(
    member: Member, room: str, content: dict[str, Any], relation: dict[str, Any]
) -> str:
    """Encrypt `content` as the member's client would, then put `relation` into the clear wrapper only."""
    client = member.client
    if not client.rooms[room].members_synced:
        await client.joined_members(room)
    await member.know_devices(room)
    async with client.crypto_lock:
        if client.olm is not None and client.olm.should_share_group_session(room):
            await client.share_group_session(room, ignore_unverified_devices=True)
        event_type, encrypted = client.encrypt(room, "m.room.message", content)
    encrypted["m.relates_to"] = relation
    method, path, data = Api.room_send(client.access_token, room, event_type, encrypted, uuid.uuid4().hex)
    response = await client._send(RoomSendResponse, method, path, data, (room,))
    assert isinstance(response, RoomSendResponse), response
    return response.event_id


async def test_with_device_trust_any_an_unverified_device_reads_and_acts_as_before(
    make_bot: MakeBot, make_member: MakeMember, synapse: Any, tmp_path: Path
) -> None:
    bot = await make_bot(device_trust="any")
    anna, karin = await make_member("anna"), await make_member("karin")
    room, _ = await open_case(anna, bot, "orebro", "Sjostjerne")
    ok(await anna.command(room, f"!role {anna.user_id} slutenvard coordinator"))
    await bring_in(anna, room, karin, "kommun")
    unverified = await Member.login(synapse.url, karin.user_id, TEST_PASSWORD, tmp_path / "unverified", verified=False)
    ok(await unverified.command(room, "!status"))
    await unverified.close()


async def test_a_member_without_cross_signing_is_told_how_to_set_it_up_and_the_coordinators_are_told(
    module_bot: BotRunner, make_member: MakeMember, synapse: Any, new_user: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setattr("homeward.bot.devices.NO_IDENTITY_GRACE_S", 1.0)
    bot = module_bot
    anna = await make_member("anna")
    room, _ = await open_case(anna, bot, "orebro", "Sjostjerne")
    ok(await anna.command(room, f"!role {anna.user_id} slutenvard coordinator"))
    # An old client that never set up cross-signing.
    user_id, password = await new_user(prefix="olle")
    olle = await Member.login(synapse.url, user_id, password, tmp_path / "olle", verified=False)
    await bring_in(anna, room, olle, "oppenvard")

    told = await anna.wait_for(lambda s: s.content.get("homeward.no_identity") == olle.user_id)
    assert mentioned(told) == [anna.user_id] and "korssignering" in told.content["body"]
    refused = await olle.command(room, "!status")  # the one message his device can read
    assert refused.content["homeward.reason"] == "trust.refused_no_identity"
    assert "Säkerhet och integritet" in refused.content["body"]
    await olle.close()
