"""Parents answer a consent by replying to the bot's request, one request at a time.

One bot and three cases are set up once for the module: a Norwegian (sthf) case with two
guardians and a municipal nurse, a Swedish (orebro) case with one guardian, and an English
copy of sthf with one guardian. Each test walks one case.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from homeward.care.pathway import default_pathways_dir
from homeward.config import Config
from homeward.dev.synapse import LocalSynapse
from tests.harness import BotRunner, Member, Seen, reply_target
from tests.integration.care import audit_trail, bring_in, mentioned, ok, open_case

PASSWORD = "consent-password"


@dataclass
class Cases:
    bot: BotRunner
    ingrid: Member  # coordinator of all three cases
    kari: Member  # municipal nurse (nb case)
    mor: Member  # guardian (nb and en cases)
    far: Member  # guardian (nb case)
    greta: Member  # guardian (sv case)
    nb: str
    sv: str
    en: str


@pytest.fixture(scope="module")
async def cases(synapse: LocalSynapse, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cases]:
    base = tmp_path_factory.mktemp("consent-reply")
    english = base / "pathways"
    english.mkdir()
    sthf = (default_pathways_dir() / "sthf.yaml").read_text(encoding="utf-8")
    (english / "sthf_en.yaml").write_text(
        sthf.replace("\nid: sthf\n", "\nid: sthf_en\n").replace("\nlanguage: nb\n", "\nlanguage: en\n"),
        encoding="utf-8",
    )
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
                "timezone": "Europe/Oslo",
                "pathways_dir": english,
            }
        )
    )
    await bot.start()
    people = []
    for name in ("ingrid", "kari", "mor", "far", "greta"):
        user_id = await synapse.register(f"{name}-{uuid.uuid4().hex[:6]}", PASSWORD)
        people.append(await Member.login(synapse.url, user_id, PASSWORD, base / f"client-{name}"))
    ingrid, kari, mor, far, greta = people
    try:
        nb, _ = await open_case(ingrid, bot, "sthf", "Maane")
        ok(await ingrid.command(nb, f"!role {ingrid.user_id} sykehus coordinator"))
        await bring_in(ingrid, nb, kari, "kommunen")
        await bring_in(ingrid, nb, mor, "foresatt")
        await bring_in(ingrid, nb, far, "foresatt")
        sv, _ = await open_case(ingrid, bot, "orebro", "Sjostjerne")
        ok(await ingrid.command(sv, f"!role {ingrid.user_id} oppenvard coordinator"))
        await bring_in(ingrid, sv, greta, "vardnadshavare")
        en, _ = await open_case(ingrid, bot, "sthf_en", "Star")
        ok(await ingrid.command(en, f"!role {ingrid.user_id} sykehus coordinator"))
        await bring_in(ingrid, en, mor, "foresatt")
        yield Cases(bot, ingrid, kari, mor, far, greta, nb, sv, en)
    finally:
        await bot.stop()
        for person in people:
            await person.close()


def requests(member: Member, room: str, consent: str | None = None) -> list[Seen]:
    return [
        s
        for s in member.seen
        if s.room_id == room
        and "homeward.consent_request" in s.content
        and (consent is None or s.content["homeward.consent_request"] == consent)
    ]


async def request_for(member: Member, room: str, consent: str) -> Seen:
    """The request of `consent` that mentions `member` (the one they were asked with)."""
    return await member.wait_for(
        lambda s: (
            s.room_id == room
            and s.content.get("homeward.consent_request") == consent
            and member.user_id in mentioned(s)
        )
    )


def details_for(member: Member, room: str, consent: str) -> Seen:
    """The details of `consent` (why, to whom, what), posted just before its request."""
    return next(s for s in member.seen if s.room_id == room and s.content.get("homeward.consent_details") == consent)


async def reply(member: Member, room: str, to: str, body: str, bot: BotRunner) -> Seen:
    """Reply to event `to` as Element does (`m.in_reply_to`); the bot's answer."""
    event_id = await member.send(room, body, {"m.relates_to": {"m.in_reply_to": {"event_id": to}}})
    return await member.wait_for(lambda s: reply_target(s) == event_id and s.sender == bot.user_id)


async def edit_showing(member: Member, room: str, original: str, *words: str) -> Seen:
    """The edit (m.replace) of `original` whose new text contains every one of `words`."""

    def matches(s: Seen) -> bool:
        relates = s.content.get("m.relates_to") or {}
        new = s.content.get("m.new_content") or {}
        return (
            s.room_id == room
            and relates.get("rel_type") == "m.replace"
            and relates.get("event_id") == original
            and all(w in new.get("body", "") for w in words)
        )

    return await member.wait_for(matches)


async def test_guardians_answer_by_replying_ja_and_nei_and_each_request_shows_who_answered(cases: Cases) -> None:
    c = cases
    room, bot = c.nb, c.bot
    asked_mor = await request_for(c.mor, room, "dokumentasjon")
    asked_far = await request_for(c.far, room, "dokumentasjon")
    # One request at a time: the individual plan is not asked yet.
    assert requests(c.far, room, "individuell-plan") == []
    # Purpose and receivers first (in the details, which name nobody); the people who must answer named
    # in the short request; no id as the main text.
    details = details_for(c.far, room, "dokumentasjon")
    body = details.content["body"]
    first = body.split("\n\n")[0]  # plain text, as a notification shows it: no stars
    assert "Hvorfor:" in first and "Hvem får opplysningene: Kommunen" in first
    assert "`" not in first and "Samtykke til Samtykke" not in body  # the id is in the typed command only
    assert details.content["m.mentions"] == {} and details.content["msgtype"] == "m.notice"
    assert f'<a href="https://matrix.to/#/{c.mor.user_id}">' in asked_far.content["formatted_body"]
    assert f'<a href="https://matrix.to/#/{c.far.user_id}">' in asked_far.content["formatted_body"]
    assert "barnet" not in asked_far.content["body"].lower()  # who answers: the guardians, nothing about the child
    assert "Samtykke" in asked_far.content["body"] and "Hvorfor" not in asked_far.content["body"]  # short: 5 lines

    # Anything else than yes or no: how to answer; nothing recorded.
    question = await reply(c.mor, room, asked_far.event_id, "Hva betyr dette?", bot)
    assert question.content["homeward.reason"] == "consent.reply_help" and "**ja**" in question.content["body"]

    # Mor says yes, with the quoted fallback older clients put before a reply.
    yes = await reply(c.mor, room, asked_mor.event_id, f"> <{bot.user_id}> 🔏 Samtykke …\n\nJa!", bot)
    ok(yes)
    assert yes.content["homeward.command"] == "consent yes"
    assert yes.content["homeward.consent"] == {"id": "dokumentasjon", "state": "pending"}
    await edit_showing(c.far, room, asked_far.event_id, c.mor.user_id, "ja")

    # Far says no: the requests show both answers and how to change; the next request follows, once.
    no = await reply(c.far, room, asked_far.event_id, "nei.", bot)
    assert no.content["homeward.consent"] == {"id": "dokumentasjon", "state": "refused"}
    assert no.content["homeward.next_consent"] == "individuell-plan"
    edited = await edit_showing(
        c.mor,
        room,
        asked_mor.event_id,
        c.mor.user_id,
        c.far.user_id,
        "Samtykket er nektet",
        "!consent yes dokumentasjon",
    )
    assert edited.content["m.new_content"]["m.mentions"] == {} and edited.content["body"].startswith("* Forespørselen")
    assert "<ul>" not in edited.content["formatted_body"]  # the fallback is a sentence, not a one-item list
    plan_request = await request_for(c.mor, room, "individuell-plan")
    listing = await c.ingrid.command(room, "!consents")
    assert len(requests(c.ingrid, room, "individuell-plan")) == 1

    # A reply to an old request its sender already answered changes nothing, and says so.
    again = await reply(c.mor, room, asked_mor.event_id, "nei", bot)
    ok(again)
    assert again.content["homeward.consent"]["unchanged"] is True and "allerede svart **ja**" in again.content["body"]
    dokumentasjon = next(x for x in listing.content["homeward.consents"] if x["id"] == "dokumentasjon")
    assert [(a["user"], a["answer"]) for a in dokumentasjon["answers"]] == [
        (c.mor.user_id, "yes"),
        (c.far.user_id, "no"),
    ]

    # The same audit rows as the command, with the reply as the causing event.
    rows = [r for r in await audit_trail(c.ingrid, room) if r["action"] == "consent.answered"]
    assert [(r["actor"], json.loads(r["details"])["answer"]) for r in rows] == [
        (c.mor.user_id, "yes"),
        (c.far.user_id, "no"),
    ]
    assert plan_request.event_id


async def test_a_reply_by_someone_who_may_not_answer_gets_the_commands_refusal(cases: Cases) -> None:
    c = cases
    room = c.nb
    asked = await request_for(c.mor, room, "dokumentasjon")
    await c.kari.wait_for(lambda s: s.event_id == asked.event_id)
    by_reply = await reply(c.kari, room, asked.event_id, "Ja", c.bot)
    by_command = await c.kari.command(room, "!consent yes dokumentasjon")
    assert by_reply.content["homeward.status"] == "error"
    assert by_reply.content["homeward.reason"] == by_command.content["homeward.reason"] == "permission.wrong_role"
    assert by_reply.content["body"] == by_command.content["body"]
    # A nurse's chat in reply to a request is chat: no answer.
    chat = await c.kari.send(
        room, "Jeg ringer dere i morgen om dette.", {"m.relates_to": {"m.in_reply_to": {"event_id": asked.event_id}}}
    )
    await c.kari.command(room, "!consents")
    assert c.kari.replies_to(chat) == []


async def test_the_covered_sip_consent_is_not_asked_and_shows_its_rule(cases: Cases) -> None:
    c = cases
    room, bot = c.sv, c.bot
    first = await request_for(c.greta, room, "informationsoverforing")
    assert mentioned(first) == [c.greta.user_id]
    details = details_for(c.greta, room, "informationsoverforing")
    assert "svarar barnet själv" not in details.content["body"] and "Barnet kan svara" not in details.content["body"]
    assert "Varför:" in details.content["body"].split("\n\n")[0]

    given = await reply(c.greta, room, first.event_id, "JA", bot)
    assert given.content["homeward.consent"] == {"id": "informationsoverforing", "state": "given"}
    assert "Registrerat: du har svarat **ja**" in given.content["body"]
    npo = await request_for(c.greta, room, "npo")
    refused = await reply(c.greta, room, npo.event_id, "Nej", bot)
    assert refused.content["homeward.consent"] == {"id": "npo", "state": "refused"}
    assert refused.content["homeward.next_consent"] is None

    listing = await c.ingrid.command(room, "!consents")
    assert requests(c.greta, room, "sip") == []
    sip = next(x for x in listing.content["homeward.consents"] if x["id"] == "sip")
    assert (sip["state"], sip["covered_by"], sip["must_answer"]) == ("given", "informationsoverforing", [])
    assert "Täcks av" in listing.content["body"] and "inget nytt samtycke registreras" in listing.content["body"]
    covered = await c.greta.command(room, "!consent yes sip")
    assert covered.content["homeward.reason"] == "consent.covered"


async def test_an_english_room_takes_yes_and_no(cases: Cases) -> None:
    c = cases
    room, bot = c.en, c.bot
    first = await request_for(c.mor, room, "dokumentasjon")
    assert "reply yes or no to this message" in first.content["body"]
    given = await reply(c.mor, room, first.event_id, "yes", bot)
    assert given.content["homeward.consent"] == {"id": "dokumentasjon", "state": "given"}
    assert "Recorded: you answered **yes**" in given.content["body"]
    second = await request_for(c.mor, room, "individuell-plan")
    refused = await reply(c.mor, room, second.event_id, "NO", bot)
    assert refused.content["homeward.consent"] == {"id": "individuell-plan", "state": "refused"}
    await edit_showing(c.mor, room, second.event_id, "The consent is refused", "!consent yes individuell-plan")
