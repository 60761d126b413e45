"""Bad and unusual events, sent by a real encrypted client through Synapse: the bot answers
each command once with `ok` or a clear `error`, ignores what is not a command, and keeps going.

Already covered elsewhere, not repeated here: an edited command is not run again and
plain chat is not answered (test_skeleton), undecryptable and malformed ciphertext
(test_skeleton), strangers without a lane in a care room (test_permissions).
"""

from __future__ import annotations

import aiohttp
from nio import RoomSendError

from tests.harness import Member, Seen
from tests.integration.care import bring_in, item, ok, open_case, refused
from tests.integration.conftest import direct_room


def answers(member: Member, event_id: str) -> list[Seen]:
    """The bot's answers to one event (a reply, whether or not in a thread)."""
    return [s for s in member.seen if "homeward.status" in s.content and _reply_target(s) == event_id]


def _reply_target(seen: Seen) -> str | None:
    relates = seen.content.get("m.relates_to")  # not always an object here: these tests send malformed ones
    reply = relates.get("m.in_reply_to") if isinstance(relates, dict) else None
    return reply.get("event_id") if isinstance(reply, dict) else None


async def test_a_100_kb_message_is_refused_by_the_homeserver_so_it_never_reaches_the_bot(module_bot, module_member):
    bot, alice = module_bot, module_member
    room = await direct_room(alice, bot)

    response = await alice.client.room_send(
        room, "m.room.message", {"msgtype": "m.text", "body": "!ping " + "x" * 100_000}, ignore_unverified_devices=True
    )

    assert isinstance(response, RoomSendError) and response.status_code == "M_TOO_LARGE"  # Synapse: 64 KiB per event
    assert (await alice.command(room, "!ping")).content["body"] == "pong"


async def test_the_longest_command_an_encrypted_event_can_carry_gets_a_too_long_error_and_ping_still_works(
    module_bot, module_member
):
    bot, alice = module_bot, module_member
    room = await direct_room(alice, bot)

    answer = await alice.command(room, "!plan goal " + "Trygg hjemkomst " * 2_500)  # 40 kB; about 54 kB once encrypted

    refused(answer, "too long")
    assert answer.content["homeward.reason"] == "error.too_long"
    assert len(answer.content["body"]) < 200  # the text is not echoed back
    assert (await alice.command(room, "!ping")).content["body"] == "pong"


async def test_the_bot_acts_on_body_not_on_a_formatted_body_that_says_something_else(module_bot, module_member):
    bot, alice = module_bot, module_member
    room = await direct_room(alice, bot)

    command = await alice.send(room, "!ping", {"format": "org.matrix.custom.html", "formatted_body": "<p>!help</p>"})

    answer = await alice.wait_for(lambda s: s in answers(alice, command))
    assert answer.content["homeward.command"] == "ping" and answer.content["body"] == "pong"


async def test_an_edit_that_turns_chat_into_a_command_is_not_run(module_bot, module_member):
    bot, alice = module_bot, module_member
    room = await direct_room(alice, bot)
    chat = await alice.send(room, "hello")

    edit = await alice.send(
        room,
        "* !ping",
        {
            "m.new_content": {"msgtype": "m.text", "body": "!ping"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": chat},
        },
    )
    await alice.command(room, "!help")  # answered after the edit was seen: events are handled in order

    assert answers(alice, chat) == [] and answers(alice, edit) == []


async def test_a_command_in_a_thread_is_answered_in_that_thread(module_bot, module_member):
    bot, alice = module_bot, module_member
    room = await direct_room(alice, bot)
    root = await alice.send(room, "Questions about the discharge")

    # As Element sends a message in a thread: the thread relation with a reply fallback.
    command = await alice.send(
        room,
        "!ping",
        {
            "m.relates_to": {
                "rel_type": "m.thread",
                "event_id": root,
                "is_falling_back": True,
                "m.in_reply_to": {"event_id": root},
            }
        },
    )

    answer = await alice.wait_for(lambda s: s in answers(alice, command))
    assert answer.content["m.relates_to"] == {
        "rel_type": "m.thread",
        "event_id": root,
        "is_falling_back": False,
        "m.in_reply_to": {"event_id": command},
    }
    client = alice.client  # the homeserver files the (encrypted) answer under the thread too
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{client.homeserver}/_matrix/client/v1/rooms/{room}/relations/{root}/m.thread",
            headers={"Authorization": f"Bearer {client.access_token}"},
        ) as response,
    ):
        in_thread = [e["event_id"] for e in (await response.json())["chunk"]]
    assert answer.event_id in in_thread and command in in_thread


async def test_a_command_sent_as_a_reply_to_the_bots_message_is_answered(module_bot, module_member):
    bot, alice = module_bot, module_member
    room = await direct_room(alice, bot)
    pong = await alice.command(room, "!ping")

    # An older client's reply: the quoted fallback lines before the command.
    command = await alice.send(
        room, f"> <{bot.user_id}> pong\n\n!ping", {"m.relates_to": {"m.in_reply_to": {"event_id": pong.event_id}}}
    )

    answer = await alice.wait_for(lambda s: s in answers(alice, command))
    assert answer.content["body"] == "pong"
    assert answers(alice, pong.event_id) == []


async def test_a_command_with_a_malformed_relation_is_still_answered(module_bot, module_member):
    bot, alice = module_bot, module_member
    room = await direct_room(alice, bot)

    command = await alice.send(room, "!ping", {"m.relates_to": "not an object"})

    answer = await alice.wait_for(lambda s: s in answers(alice, command))
    assert answer.content["body"] == "pong" and answer.content["m.relates_to"] == {
        "m.in_reply_to": {"event_id": command}
    }


async def test_control_characters_rtl_and_zero_width_in_arguments_get_a_clear_answer(module_bot, module_member):
    bot, alice = module_bot, module_member
    room = await direct_room(alice, bot)
    bodies = [
        "!ping \u200b",
        "!help \u202eping",
        "!help pi\u200dng",
        "!pathways \x00\x07\x1b[31m",
        "!remind plo in \ufeff2h",
        "!ping\u00a0",
        "!plan goal \u2066Trygg\u2069 hjemkomst",
    ]

    seen = [await alice.command(room, body) for body in bodies]

    for body, answer in zip(bodies, seen, strict=True):
        assert answer.content["homeward.status"] in ("ok", "error"), body
        assert answer.content.get("homeward.reason") != "error.internal", body
        assert answer.content["body"].strip(), body
    assert [len(answers(alice, a.content["m.relates_to"]["m.in_reply_to"]["event_id"])) for a in seen] == [1] * len(
        bodies
    )


async def test_a_reaction_with_an_unknown_key_on_a_notice_acknowledges_nothing(make_bot, make_member):
    bot = await make_bot()
    anna, karin = await make_member("anna"), await make_member("karin")
    room, _ = await open_case(anna, bot, "orebro", "Sjostjerne")
    ok(await anna.command(room, f"!role {anna.user_id} slutenvard coordinator"))
    await bring_in(anna, room, karin, "kommun")
    ok(await anna.command(room, "!send inskrivningsmeddelande"))
    notice = await karin.wait_for(lambda s: s.content.get("homeward.notice") == "inskrivningsmeddelande")

    for key in ("🎉", "❌", "ok", "\u200b"):
        await karin.send_event(
            room, "m.reaction", {"m.relates_to": {"rel_type": "m.annotation", "event_id": notice.event_id, "key": key}}
        )
    status = await anna.command(room, "!status")

    assert item(status, "inskrivningsmeddelande")["acks"] == []
    assert answers(karin, notice.event_id) == []


async def test_after_being_removed_from_a_room_the_bot_answers_elsewhere_and_again_when_invited_back(
    make_bot, make_member
):
    bot = await make_bot()
    alice = await make_member("alice")
    removed, other = await direct_room(alice, bot), await direct_room(alice, bot)
    ok(await alice.command(removed, "!ping"))

    await alice.client.room_kick(removed, bot.user_id, reason="test")
    await alice.wait_for_membership(removed, bot.user_id, "leave")
    ok(await alice.command(other, "!ping"))
    await alice.client.room_invite(removed, bot.user_id)
    await alice.wait_for_membership(removed, bot.user_id, "join")

    assert (await alice.command(removed, "!ping")).content["body"] == "pong"
