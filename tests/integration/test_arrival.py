"""What people meet when they arrive in a care room, and a notice that carries its facts (issue 14).

One Örebro case for the whole module: Anna opens it (in Slutenvård, coordinating) and sets
the admission date only. She sends the Inskrivningsmeddelande while nobody is in its
receiving lanes, then invites a guardian (Maria) and a municipal case officer (Karin) in one
burst; both join. Then she sets the preliminary discharge date, which renews the notice,
and sends it again. Each test asserts one thing the people saw.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from nio import RoomGetEventError

from homeward.config import Config
from homeward.dev.synapse import LocalSynapse
from tests.harness import BotRunner, Member, Seen, reply_target
from tests.integration.care import mentioned, ok, open_case

PASSWORD = "arrival-pass-1234"


@dataclass
class Arrival:
    room: str
    anna: Member
    maria: Member
    karin: Member
    team_before: Seen
    first_send: Seen
    first_notice: Seen
    invites: list[Seen]
    checklists_after_invites: list[Seen]
    second_notice: Seen
    team_after: Seen
    olle: Member
    reaction_answer: Seen


async def _member(synapse: LocalSynapse, base: Path, name: str) -> Member:
    localpart = f"{name}-{uuid.uuid4().hex[:6]}"
    user_id = await synapse.register(localpart, PASSWORD)
    return await Member.login(synapse.url, user_id, PASSWORD, base / localpart)


def _notice(seen: Seen) -> bool:
    return seen.content.get("homeward.notice") == "inskrivningsmeddelande"


@pytest.fixture(scope="module")
async def arrival(synapse: LocalSynapse, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Arrival]:
    base = tmp_path_factory.mktemp("arrival")
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
                "language": "sv",
                "timezone": "Europe/Stockholm",
            }
        )
    )
    await bot.start()
    anna, maria, karin, olle = [await _member(synapse, base, name) for name in ("anna", "maria", "karin", "olle")]
    try:
        room, _ = await open_case(anna, bot, "orebro", "Sjostjerne")
        ok(await anna.command(room, f"!role {anna.user_id} slutenvard coordinator"))
        ok(await anna.command(room, "!plan admission 2026-12-01 08:00"))
        team_before = await anna.command(room, "!team")
        first_send = await anna.command(room, "!send inskrivningsmeddelande")
        first_notice = await anna.wait_for(lambda s: s.room_id == room and _notice(s))
        mark = len(anna.seen)
        invites = [
            await anna.command(room, f"!invite {maria.user_id} vardnadshavare"),
            await anna.command(room, f"!invite {karin.user_id} kommun"),
        ]
        for person in (maria, karin):
            await anna.wait_for_membership(room, person.user_id, "invite")
            await person.join(room)

        def greeted(user_id: str) -> Callable[[Seen], bool]:
            return lambda s: s.room_id == room and s.content.get("homeward.greeting") == user_id

        for person in (maria, karin):
            await person.wait_for(greeted(person.user_id))
        # Anything the joins queued is out once a later answer is.
        ok(await anna.command(room, "!plan discharge 2026-12-08"))
        checklists = [s for s in anna.seen[mark:] if s.room_id == room and "homeward.checklist" in s.content]
        ok(await anna.command(room, "!send inskrivningsmeddelande"))
        second_notice = await karin.wait_for(lambda s: s.room_id == room and _notice(s))
        team_after = await anna.command(room, "!team")
        # Olle comes after the notice; then Karin acknowledges it with a reaction.
        ok(await anna.command(room, f"!invite {olle.user_id} oppenvard"))
        await anna.wait_for_membership(room, olle.user_id, "invite")
        await olle.join(room)
        await olle.wait_for(lambda s: s.room_id == room and s.content.get("homeward.greeting") == olle.user_id)
        reaction = await karin.send_event(
            room,
            "m.reaction",
            {"m.relates_to": {"rel_type": "m.annotation", "event_id": second_notice.event_id, "key": "✅"}},
        )
        reaction_answer = await olle.wait_for(lambda s: reply_target(s) == reaction)
        yield Arrival(
            room,
            anna,
            maria,
            karin,
            team_before,
            first_send,
            first_notice,
            invites,
            checklists,
            second_notice,
            team_after,
            olle,
            reaction_answer,
        )
    finally:
        await bot.stop()
        for person in (anna, maria, karin, olle):
            await person.close()


async def _visible(member: Member, room: str, event_id: str) -> bool:
    return not isinstance(await member.client.room_get_event(room, event_id), RoomGetEventError)


def _said_with_details(member: Member, seen: Seen, key: str, value: str) -> dict[str, str]:
    """A message and what precedes or follows it naming nobody (`key` == `value`), as one body and one HTML:
    what a person reads of a greeting, or of a sent notice."""
    at = member.seen.index(seen)
    nearest = min(
        (s for s in member.seen if s.room_id == seen.room_id and s.content.get(key) == value),
        key=lambda s: abs(member.seen.index(s) - at),
    )
    return {
        "body": seen.content["body"] + "\n\n" + nearest.content["body"],
        "formatted_body": seen.content["formatted_body"] + nearest.content["formatted_body"],
    }


def _greeting_text(member: Member, room: str) -> str:
    greeting = _greetings(member, room)[0]
    return _said_with_details(member, greeting, "homeward.greeting_details", member.user_id)["body"]


def _greetings(member: Member, room: str) -> list[Seen]:
    """The greetings addressed to `member` (the room reads everyone's)."""
    return [s for s in member.seen if s.room_id == room and s.content.get("homeward.greeting") == member.user_id]


async def test_a_newcomer_gets_exactly_one_greeting_that_mentions_them(arrival: Arrival) -> None:
    for person in (arrival.maria, arrival.karin):
        greetings = _greetings(person, arrival.room)
        assert len(greetings) == 1
        assert person.user_id in mentioned(greetings[0])
        assert f"https://matrix.to/#/{person.user_id}" in greetings[0].content["formatted_body"]
        assert greetings[0].encrypted


async def test_the_greeting_says_the_lane_and_the_command_used_most(arrival: Arrival) -> None:
    maria = _greeting_text(arrival.maria, arrival.room)
    karin = _greeting_text(arrival.karin, arrival.room)
    assert "Vårdnadshavare" in maria and "svara ja eller nej på förfrågan" in maria and "!status" in maria
    assert "Kommun" in karin and "!ack <id>" in karin


async def test_the_greeting_lists_a_notice_sent_before_the_newcomer_with_its_facts(arrival: Arrival) -> None:
    karin = _greeting_text(arrival.karin, arrival.room)
    line = next(line for line in karin.splitlines() if "inskrivningsmeddelande" in line)
    assert "!ack inskrivningsmeddelande" in line
    assert "2026-12-01 08:00" in line and "inte satt än" in line  # admission set, discharge not yet


async def test_a_newcomers_view_has_no_reply_to_an_event_they_cannot_see(arrival: Arrival) -> None:
    checked = 0
    for person in (arrival.maria, arrival.karin, arrival.olle):
        targets = {
            reply_target(s)
            for s in person.seen
            if s.room_id == arrival.room and ((s.content.get("m.relates_to") or {}).get("m.in_reply_to"))
        }
        for target in targets:
            assert target is not None and await _visible(person, arrival.room, target), (
                f"{person.user_id} sees a reply to {target} it cannot read"
            )
        checked += len(targets)
    assert checked, "the newcomers saw no reply at all: the check proves nothing"


async def test_the_invite_answer_names_the_coordinator_and_goes_before_the_invite_so_the_newcomer_never_meets_it(
    arrival: Arrival,
) -> None:
    for answer in arrival.invites:
        ok(answer)
        assert "m.relates_to" not in answer.content  # someone invited just before may not see the command
        assert f"https://matrix.to/#/{arrival.anna.user_id}" in answer.content["formatted_body"]
    # Sent before the invite, it is outside the newcomer's history: their Element could not have decrypted it
    # (its room key would have come before their Element knew the bot's device), and they are greeted instead.
    assert not await _visible(arrival.maria, arrival.room, arrival.invites[0].event_id)
    assert all(s.event_id != arrival.invites[0].event_id for s in arrival.maria.seen)


async def test_the_checklist_is_posted_again_once_per_join_burst_and_each_newcomer_can_read_the_pinned_one(
    arrival: Arrival,
) -> None:
    assert len(arrival.checklists_after_invites) == 1  # the first join; the second newcomer can read that one
    pinned = arrival.checklists_after_invites[0].event_id
    for person in (arrival.maria, arrival.karin):
        assert await _visible(person, arrival.room, pinned)
        assert any(s.event_id == pinned for s in person.seen)


async def test_team_lists_an_empty_lane_with_how_to_invite_someone(arrival: Arrival) -> None:
    before = arrival.team_before.content["body"]
    assert "**Kommun** (`kommun`): ingen än — bjud in någon med `!invite @user:server kommun`" in before
    assert len([line for line in before.splitlines() if "ingen än" in line]) == 5  # every lane but Anna's
    after = arrival.team_after.content["body"]
    kommun = next(line for line in after.splitlines() if "(`kommun`)" in line)
    oppenvard = next(line for line in after.splitlines() if "(`oppenvard`)" in line)
    assert arrival.karin.user_id in kommun and "ingen än" not in kommun
    assert "ingen än" in oppenvard and "!invite @user:server oppenvard" in oppenvard


async def test_sending_a_notice_to_an_empty_lane_warns_the_sender_and_still_sends_it(arrival: Arrival) -> None:
    ok(arrival.first_send)
    assert arrival.first_send.content["homeward.nobody_in"] == ["kommun", "oppenvard"]
    assert "!invite @user:server kommun" in arrival.first_send.content["body"]
    assert arrival.first_notice.content["homeward.notice"] == "inskrivningsmeddelande"  # sent and recorded


async def test_a_notice_whose_carried_date_is_not_set_says_so(arrival: Arrival) -> None:
    body = _said_with_details(arrival.anna, arrival.first_notice, "homeward.notice_details", "inskrivningsmeddelande")[
        "body"
    ]
    assert "Inskrivning på sjukhus: 2026-12-01 08:00" in body
    assert "Preliminärt utskrivningsdatum: inte satt än (!plan discharge <YYYY-MM-DD>)" in body  # plain text
    assert arrival.first_send.content["homeward.dates_unset"] == ["discharge"]


async def test_a_sent_notice_states_its_dates_sender_and_deadline(arrival: Arrival) -> None:
    notice = _said_with_details(
        arrival.karin, arrival.second_notice, "homeward.notice_details", "inskrivningsmeddelande"
    )
    body = notice["body"]
    assert "Inskrivning på sjukhus: 2026-12-01 08:00" in body
    assert "Preliminärt utskrivningsdatum: 2026-12-08" in body
    assert "från Slutenvård (" + arrival.anna.user_id + ")" in body  # the plain body names the sender by id
    assert f'<a href="https://matrix.to/#/{arrival.anna.user_id}">' in notice["formatted_body"]  # a pill in Element
    assert "Kvittera senast 2026-12-" in body  # the next working day, 16:00 (settings.default_ack_due)
    assert "Kommunens biståndsenhet" in body  # what the kommun lane is asked to do, in the source's words
    assert arrival.karin.user_id in mentioned(arrival.second_notice)


async def test_a_reaction_to_a_notice_a_later_member_cannot_read_is_answered_without_quoting_it(
    arrival: Arrival,
) -> None:
    answer = arrival.reaction_answer
    ok(answer)
    assert "m.relates_to" not in answer.content
    assert f"https://matrix.to/#/{arrival.karin.user_id}" in answer.content["formatted_body"]  # whose reaction it was
    assert answer.content["homeward.item"] == "inskrivningsmeddelande"
