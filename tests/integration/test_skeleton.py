"""The walking skeleton, as a member sees it in an encrypted room."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from homeward.clock import ShiftedClock
from homeward.store.state import list_undecrypted
from homeward.work import undecryptable
from tests.integration.conftest import direct_room


async def grace_over(bot, clock: ShiftedClock, event_id: str) -> None:
    """Once the bot holds `event_id` as undecryptable, move its clock past the grace it gives a late room key
    (undecryptable.GRACE_S), so the notice comes at the bot's next look (within 2 s) and not 5 s later."""
    for _ in range(300):
        async with bot.store.read() as db:
            if any(row["event_id"] == event_id for row in await list_undecrypted(db)):
                break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError(f"the bot never held {event_id} as undecryptable")
    clock.jump_to(clock.now() + timedelta(seconds=undecryptable.GRACE_S))


async def test_help_is_answered_encrypted_as_a_reply_with_the_homeward_keys(module_bot, module_member):
    bot, alice = module_bot, module_member
    room = await direct_room(alice, bot)

    answer = await alice.command(room, "!help")

    assert answer.encrypted
    assert answer.sender == bot.user_id
    assert answer.content["msgtype"] == "m.notice"
    assert answer.content["homeward.command"] == "help"
    assert answer.content["homeward.status"] == "ok"
    assert "ping" in answer.content["body"]
    assert "<code>" in answer.content["formatted_body"]


async def test_slash_prefix_works_like_the_exclamation_mark(module_bot, module_member):
    bot, alice = module_bot, module_member
    room = await direct_room(alice, bot)

    answer = await alice.command(room, "/help")

    assert answer.content["homeward.command"] == "help"
    assert answer.content["homeward.status"] == "ok"


async def test_ping_answers_pong(module_bot, module_member):
    bot, alice = module_bot, module_member
    room = await direct_room(alice, bot)

    answer = await alice.command(room, "!ping")

    assert answer.content["body"] == "pong"
    assert answer.content["homeward.status"] == "ok"


async def test_unknown_command_gets_an_error_that_points_to_help(module_bot, module_member):
    bot, alice = module_bot, module_member
    room = await direct_room(alice, bot)

    answer = await alice.command(room, "!plna discharge 2026-12-14")

    assert answer.content["homeward.status"] == "error"
    assert answer.content["homeward.command"] == "plna"
    assert "!help" in answer.content["body"]


async def test_a_wrong_argument_is_refused_with_the_usage_and_the_bot_keeps_working(module_bot, module_member):
    bot, alice = module_bot, module_member
    room = await direct_room(alice, bot)

    refused = await alice.command(room, "!ping now please")
    after = await alice.command(room, "!ping")

    assert refused.content["homeward.status"] == "error"
    assert "!ping" in refused.content["body"]
    assert after.content["body"] == "pong"


async def test_an_edited_command_is_not_run_again(module_bot, module_member):
    bot, alice = module_bot, module_member
    room = await direct_room(alice, bot)
    original = await alice.send(room, "!ping")
    edit = await alice.send(
        room,
        "* !ping",
        {
            "m.new_content": {"msgtype": "m.text", "body": "!ping"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": original},
        },
    )

    await alice.command(room, "!help")  # answered after the edit was seen, since events are handled in order

    assert len(alice.replies_to(original)) == 1
    assert alice.replies_to(edit) == []


async def test_plain_chat_is_not_answered(module_bot, module_member):
    bot, alice = module_bot, module_member
    room = await direct_room(alice, bot)
    chat = await alice.send(room, "!important: the meeting moved to 10:00")

    await alice.command(room, "!ping")

    assert alice.replies_to(chat) == []


async def test_after_a_restart_new_commands_are_answered_and_old_ones_are_not_answered_again(make_bot, make_member):
    bot = await make_bot()
    alice = await make_member("alice")
    room = await direct_room(alice, bot)
    before = await alice.command(room, "!ping")
    await bot.stop()
    while_down = await alice.send(room, "!ping")

    await bot.start()
    after = await alice.command(room, "!ping")
    await alice.wait_for(
        lambda s: s.content.get("m.relates_to", {}).get("m.in_reply_to", {}).get("event_id") == while_down
    )

    assert after.content["body"] == "pong"
    original_command = before.content["m.relates_to"]["m.in_reply_to"]["event_id"]
    assert len(alice.replies_to(original_command)) == 1
    assert len(alice.replies_to(while_down)) == 1


async def test_an_invite_from_outside_allowed_inviters_is_declined(make_bot, make_member):
    trusted = await make_member("trusted")
    bot = await make_bot(allowed_inviters=[trusted.user_id])
    stranger = await make_member("stranger")

    room = await stranger.create_room(invite=[bot.user_id])

    await stranger.wait_for_membership(room, bot.user_id, "leave")


async def test_an_invite_from_an_allowed_inviter_is_accepted_with_a_greeting(make_bot, make_member):
    trusted = await make_member("trusted")
    bot = await make_bot(allowed_inviters=[trusted.user_id])

    room = await trusted.create_room(invite=[bot.user_id])

    greeting = await trusted.wait_for(
        lambda s: s.room_id == room and s.sender == bot.user_id and s.type == "m.room.message"
    )
    assert "!help" in greeting.content["body"]
    assert greeting.encrypted


async def test_a_message_whose_room_key_the_bot_never_got_is_answered_with_a_clear_notice(make_bot, make_member):
    clock = ShiftedClock(timedelta(0))
    bot = await make_bot(clock=clock)
    alice = await make_member("alice")
    room = await direct_room(alice, bot)
    await alice.command(room, "!ping")
    for device in alice.client.device_store.active_user_devices(bot.user_id):
        alice.client.blacklist_device(device)  # the next room key is not shared with the bot
    alice.client.olm.outbound_group_sessions.pop(room, None)

    secret = await alice.send(room, "!ping")
    await grace_over(bot, clock, secret)

    notice = await alice.wait_for(lambda s: s.content.get("homeward.undecryptable") == secret)
    assert notice.encrypted
    assert notice.content["homeward.status"] == "error"
    assert "could not decrypt" in notice.content["body"]
    assert alice.replies_to(secret) == [notice]


async def test_a_malformed_encrypted_event_is_answered_with_a_clear_notice(make_bot, make_member):
    clock = ShiftedClock(timedelta(0))
    bot = await make_bot(clock=clock)
    alice = await make_member("alice")
    room = await direct_room(alice, bot)
    await alice.command(room, "!ping")
    bogus = await alice.send_event(
        room,
        "m.room.encrypted",
        {
            "algorithm": "m.megolm.v1.aes-sha2",
            "sender_key": "x" * 43,
            "session_id": "unknown-session",
            "device_id": alice.client.device_id,
            "ciphertext": "AwgAEnA",
        },
    )
    await grace_over(bot, clock, bogus)

    notice = await alice.wait_for(lambda s: s.content.get("homeward.undecryptable") == bogus)

    assert notice.content["homeward.status"] == "error"
    assert "could not decrypt" in notice.content["body"]
    assert "Traceback" not in notice.content["body"]
