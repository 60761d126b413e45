"""What people meet in the room: a person named by an Element pill, a redundant ✅ left alone, a parent's !help.

One Örebro case is set up once for the module: Anna coordinates (Öppenvård), Kari is a nurse
with a display name of two words, Greta a guardian — invited, moved and assigned by pill.
The tests run in file order on it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from homeward.config import Config
from homeward.dev.synapse import LocalSynapse
from homeward.text import matrix_to
from tests.harness import BotRunner, Member, Seen, reply_target
from tests.integration.care import bring_in, ok, open_case

PASSWORD = "words-password"


@dataclass
class Room:
    bot: BotRunner
    anna: Member
    kari: Member
    greta: Member
    room: str
    dm: str  # Anna's direct chat with the bot


@pytest.fixture(scope="module")
async def case(synapse: LocalSynapse, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Room]:
    base: Path = tmp_path_factory.mktemp("room-words")
    bot_id = await synapse.register(f"homeward-{uuid.uuid4().hex[:6]}", PASSWORD)
    bot = BotRunner(
        Config.model_validate(
            {
                "homeserver": synapse.url,
                "user_id": bot_id,
                "password": PASSWORD,
                "data_dir": base / "bot",
                "allowed_inviters": [f"*:{synapse.server_name}"],
                "case_openers": [f"*:{synapse.server_name}"],
                "language": "en",
                "timezone": "Europe/Stockholm",  # the care room speaks Swedish (its pathway's language)
            }
        )
    )
    await bot.start()
    people = []
    for name, shown in (("anna", "Anna"), ("kari", "Kari Sjuksköterska"), ("greta", "Greta")):
        user_id = await synapse.register(f"{name}-{uuid.uuid4().hex[:6]}", PASSWORD, displayname=shown)
        people.append(await Member.login(synapse.url, user_id, PASSWORD, base / f"client-{name}"))
    anna, kari, greta = people
    try:
        room, opened = await open_case(anna, bot, "orebro", "Sjostjerne")
        ok(await anna.command(room, f"!role {anna.user_id} oppenvard coordinator"))
        await bring_in(anna, room, kari, "kommun")
        yield Room(bot, anna, kari, greta, room, opened.room_id)
    finally:
        await bot.stop()
        for person in people:
            await person.close()


async def with_pill(member: Member, room: str, before: str, who: Member, name: str, after: str = "") -> Seen:
    """Send a command as Element's composer does with a pill.

    The name is in the body, the link in the HTML, the id in m.mentions.
    """
    body = f"{before} {name}{(' ' + after) if after else ''}"
    html = f'{before} <a href="{matrix_to(who.user_id)}">{name}</a>{(" " + after) if after else ""}'
    event_id = await member.send(
        room,
        body,
        {"format": "org.matrix.custom.html", "formatted_body": html, "m.mentions": {"user_ids": [who.user_id]}},
    )
    return await member.wait_for(lambda s: reply_target(s) == event_id)


async def test_invite_role_and_assign_take_the_person_from_an_element_pill(case: Room) -> None:
    c = case
    invited = await with_pill(c.anna, c.room, "!invite", c.greta, "Greta", "vardnadshavare")
    ok(invited)
    await c.anna.wait_for_membership(c.room, c.greta.user_id, "invite")
    await c.greta.join(c.room)

    moved = await with_pill(c.anna, c.room, "!role", c.kari, "Kari Sjuksköterska", "slutenvard")  # a name of two words
    ok(moved)
    assigned = await with_pill(c.anna, c.room, "!assign konsultation", c.kari, "Kari Sjuksköterska")
    ok(assigned)
    assert assigned.content["homeward.user"] == c.kari.user_id
    team = await c.anna.command(c.room, "!team")
    lanes = {m["user"]: m["lane"] for m in team.content["homeward.team"]}
    assert lanes[c.greta.user_id] == "vardnadshavare" and lanes[c.kari.user_id] == "slutenvard"

    # A name without a pill is not guessed.
    bare = await c.anna.command(c.room, "!assign konsultation Kari")
    assert bare.content["homeward.reason"] == "team.bad_user"
    ok(await c.anna.command(c.room, f"!role {c.kari.user_id} kommun"))


async def test_a_redundant_acknowledgement_reaction_is_not_answered(case: Room) -> None:
    c = case
    ok(await c.anna.command(c.room, "!send inskrivningsmeddelande"))
    notice = await c.kari.wait_for(
        lambda s: s.room_id == c.room and s.content.get("homeward.notice") == "inskrivningsmeddelande"
    )
    first = await c.kari.send_event(
        c.room, "m.reaction", {"m.relates_to": {"rel_type": "m.annotation", "event_id": notice.event_id, "key": "✅"}}
    )
    acked = await c.kari.wait_for(lambda s: reply_target(s) == notice.event_id and s.sender == c.bot.user_id)
    ok(acked)
    await c.kari.send_event(
        c.room, "m.reaction", {"m.relates_to": {"rel_type": "m.annotation", "event_id": notice.event_id, "key": "👍"}}
    )
    # The command form still answers; it comes after anything the second reaction would have caused.
    typed = await c.kari.command(c.room, "!ack inskrivningsmeddelande")
    assert typed.content["homeward.reason"] == "care.lane_already_acked"
    answers = [s for s in c.kari.seen if reply_target(s) == notice.event_id and s.sender == c.bot.user_id]
    assert [a.event_id for a in answers] == [acked.event_id] and first


async def test_a_parents_help_lists_only_what_a_parent_may_use_grouped(case: Room) -> None:
    c = case
    # `!help` answers a parent in plain words (tests/test_family.py); `!help all` lists their commands.
    plain = await c.greta.command(c.room, "!help")
    ok(plain)
    assert plain.content["homeward.view"] == "family" and "!ack" not in plain.content["body"]
    shown = await c.greta.command(c.room, "!help all")
    ok(shown)
    commands = set(shown.content["homeward.commands"])
    assert {"consent yes", "consents", "status", "ack"} <= commands
    assert not any(
        name.startswith(("minutes", "export", "invite", "role", "audit", "settings", "meeting")) for name in commands
    )
    assert "!minutes" not in shown.content["body"] and "!export" not in shown.content["body"]
    assert "**Samtycke**" in shown.content["body"] and "**Uppgifter och meddelanden**" in shown.content["body"]
    coordinator = await c.anna.command(c.room, "!help")
    assert {"minutes note", "export plan", "invite"} <= set(coordinator.content["homeward.commands"])


async def test_status_shows_the_current_phase_and_status_all_everything(case: Room) -> None:
    c = case
    now = await c.anna.command(c.room, "!status")
    everything = await c.anna.command(c.room, "!status all")
    assert "**Identifiering, Bedömning**" in now.content["body"] and "**Uppföljning**" not in now.content["body"]
    assert "`!status all`" in now.content["body"]
    assert "**Uppföljning**" in everything.content["body"]
    assert (
        now.content["homeward.case"]["items"] == everything.content["homeward.case"]["items"]
    )  # the key keeps every item


async def test_the_direct_chat_speaks_the_language_of_the_last_care_room(case: Room) -> None:
    c = case
    shown = await c.anna.command(c.dm, "!help")  # the bot's configured language is English
    assert "**Homeward — kommandon du kan använda här**" in shown.content["body"]
    refused = await c.anna.command(c.dm, "!status")
    assert "fungerar bara i ett vårdteamsrum" in refused.content["body"]


async def test_the_bot_says_it_is_a_bot_in_the_rooms_language(case: Room) -> None:
    c = case
    for _ in range(100):  # its name in the room is state, sent from the outbox
        state = await c.anna.client.room_get_state_event(c.room, "m.room.member", c.bot.user_id)
        if getattr(state, "content", {}).get("displayname") == "Homeward (chattbot)":
            break
        await asyncio.sleep(0.1)
    assert state.content["displayname"] == "Homeward (chattbot)"  # a Swedish room
    profile = await c.anna.client.get_displayname(c.bot.user_id)
    assert profile.displayname == "Homeward (chatbot)"  # the account, in the configured language (English)
