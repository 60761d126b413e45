"""A care-team room, as its members see it: opening a case, the team, dates, items."""

from __future__ import annotations

from tests.integration.care import bring_in, item, open_case
from tests.integration.conftest import direct_room


# SQLite only: on PostgreSQL, `!case new` is dispatched in tests/test_dispatch_answer.py (each engine), and
# a store of its own per bot in test_skeleton.py / test_audit.py / test_crash.py ([bot-postgresql]).
async def test_case_new_creates_an_encrypted_private_room_with_the_sender_as_coordinator(make_bot, make_member):
    bot = await make_bot()
    anna = await make_member("anna")

    room, _answer = await open_case(anna, bot, "orebro", "Sjostjerne")

    client = anna.client
    state = {e["type"]: e for e in (await client.room_get_state(room)).events}
    assert state["m.room.encryption"]["content"]["algorithm"] == "m.megolm.v1.aes-sha2"
    assert state["m.room.history_visibility"]["content"]["history_visibility"] == "invited"
    assert state["m.room.guest_access"]["content"]["guest_access"] == "forbidden"
    assert state["m.room.join_rules"]["content"]["join_rule"] == "invite"
    assert state["m.room.create"]["content"]["room_version"] == "11"
    # Room state is not end-to-end encrypted: the name is the label alone, the topic says nothing of health.
    assert state["m.room.name"]["content"]["name"] == "Sjostjerne"
    topic = state["m.room.topic"]["content"]["topic"]
    assert "Utskrivning" not in topic and "utskrivning" not in topic and "!help" in topic
    assert state["m.room.server_acl"]["content"] == {"allow": ["localhost"], "deny": [], "allow_ip_literals": False}
    levels = state["m.room.power_levels"]["content"]
    assert levels["users"][bot.user_id] == 100 and levels["users"][anna.user_id] == 50
    assert levels["invite"] == 100 and levels["state_default"] == 100  # only the bot invites
    checklist = await anna.wait_for(lambda s: s.room_id == room and "homeward.checklist" in s.content)
    assert checklist.encrypted
    assert "Inskrivningsmeddelande" in checklist.content["body"]
    pinned = await anna.wait_for(lambda s: s.room_id == room and s.type == "m.room.pinned_events")
    assert pinned.content["pinned"] == [checklist.event_id]
    welcome = await anna.wait_for(lambda s: s.room_id == room and "!invite" in s.content.get("body", ""))
    assert welcome.encrypted  # the very first message is readable by the invited coordinator
    assert not [s for s in anna.seen if s.room_id == room and s.type == "undecryptable"]


async def test_with_reactions_off_a_reaction_is_not_an_acknowledgement(make_bot, make_member):
    bot = await make_bot()
    anna, karin = await make_member("anna"), await make_member("karin")
    room, _ = await open_case(anna, bot, "orebro", "Sjostjerne")
    await anna.command(room, f"!role {anna.user_id} slutenvard coordinator")
    await bring_in(anna, room, karin, "kommun")
    assert (await anna.command(room, "!settings reactions off")).content["homeward.status"] == "ok"
    await anna.command(room, "!send inskrivningsmeddelande")
    notice = await karin.wait_for(lambda s: s.content.get("homeward.notice") == "inskrivningsmeddelande")
    assert "✅" not in notice.content["body"]

    await karin.send_event(
        room, "m.reaction", {"m.relates_to": {"rel_type": "m.annotation", "event_id": notice.event_id, "key": "✅"}}
    )
    status = await anna.command(room, "!status")

    assert item(status, "inskrivningsmeddelande")["acks"] == []


async def test_a_label_that_looks_like_a_personnummer_is_refused(module_bot, module_member):
    bot, anna = module_bot, module_member
    dm = await direct_room(anna, bot)

    answer = await anna.command(dm, "!case new orebro 19900101-1234")

    assert answer.content["homeward.status"] == "error"
    assert "1234" not in answer.content["body"]
    assert "pseudonym" in answer.content["body"]


async def test_an_unknown_pathway_is_refused_with_the_known_ones(module_bot, module_member):
    bot, anna = module_bot, module_member
    dm = await direct_room(anna, bot)

    answer = await anna.command(dm, "!case new stockholm Sjostjerne")

    assert answer.content["homeward.status"] == "error"
    assert "orebro" in answer.content["body"] and "sthf" in answer.content["body"]


async def test_pathways_lists_both_pathways(module_bot, module_member):
    bot, anna = module_bot, module_member
    dm = await direct_room(anna, bot)

    answer = await anna.command(dm, "!pathways")

    ids = {p["id"] for p in answer.content["homeward.pathways"]}
    assert ids == {"orebro", "sthf"}


async def test_a_member_who_joins_later_gets_the_checklist_posted_again_and_its_updates(make_bot, make_member):
    bot = await make_bot()
    anna, karin = await make_member("anna"), await make_member("karin")
    room, _ = await open_case(anna, bot, "orebro", "Sjostjerne")
    first = await anna.wait_for(lambda s: s.room_id == room and "homeward.checklist" in s.content)
    await anna.command(room, f"!role {anna.user_id} slutenvard coordinator")

    await bring_in(anna, room, karin, "kommun")
    again = await karin.wait_for(
        lambda s: s.room_id == room and "homeward.checklist" in s.content and s.event_id != first.event_id
    )
    pinned = await karin.wait_for(
        lambda s: s.room_id == room and s.type == "m.room.pinned_events" and s.content["pinned"] == [again.event_id]
    )
    await anna.command(room, "!ack konsultation")
    # (the old one is edited too, for those who read it: Kommun has somebody now)
    edit = await karin.wait_for(
        lambda s: (
            s.room_id == room
            and "homeward.checklist" in s.content.get("m.new_content", {})
            and s.content["m.relates_to"]["event_id"] == again.event_id
        )
    )
    pointer = await anna.wait_for(
        lambda s: (
            (s.content.get("m.relates_to") or {}).get("event_id") == first.event_id
            and "homeward.checklist" not in s.content["m.new_content"]
        )
    )

    assert again.encrypted and "Inskrivningsmeddelande" in again.content["body"]
    assert pinned.content["pinned"] == [again.event_id]
    assert edit.content["m.relates_to"] == {"rel_type": "m.replace", "event_id": again.event_id}
    assert "fäst" in pointer.content["m.new_content"]["body"]  # "the current one is pinned", in Swedish
    assert not [s for s in karin.seen if s.room_id == room and s.type == "undecryptable"]
