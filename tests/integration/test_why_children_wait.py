"""Why children wait, on the real Synapse: the overdue reminder asks the late lane why, the lane answers
with one word replied to it (or a command), changes it, a coordinator answers for a lane, all audited;
the case's event log matches its schema and holds no name or user id; the review at the closing is
posted once, not again after a restart, and its figures are the case's.

An Örebro case (the room speaks Swedish): admitted Monday 30 November 2026 10:00, so the
Inskrivningsmeddelande is due Tuesday 1 December 10:00 and its first overdue reminder comes
Wednesday at 10:00.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import jsonschema
import pytest

from homeward.clock import ShiftedClock
from homeward.dev.synapse import LocalSynapse
from homeward.exports.events import EVENT_SCHEMA
from tests.conftest import TEST_PASSWORD
from tests.harness import BotRunner, Member, Seen, reply_target
from tests.integration.care import audit_trail, bring_in, item, ok, open_case
from tests.integration.conftest import bot_config
from tests.integration.test_audit import audit_file, read_file

STOCKHOLM = ZoneInfo("Europe/Stockholm")
LABEL = "Sjostjerne"


def at(month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=STOCKHOLM)


def near(moment: datetime, expected: datetime) -> bool:
    return abs((moment - expected).total_seconds()) < 60


def overdue_of(member: Member, room: str, item_id: str) -> list[Seen]:
    return [
        s
        for s in member.seen
        if s.room_id == room
        and (s.content.get("homeward.reminder") or {}).get("item") == item_id
        and s.content["homeward.reminder"].get("kind") == "overdue"
    ]


async def reply(member: Member, room: str, to: str, body: str, bot: BotRunner) -> Seen:
    """Reply to event `to` as Element does; the bot's answer."""
    event_id = await member.send(room, body, {"m.relates_to": {"m.in_reply_to": {"event_id": to}}})
    return await member.wait_for(lambda s: reply_target(s) == event_id and s.sender == bot.user_id)


async def late_case(make_bot, make_member, clock: ShiftedClock):
    bot = await make_bot(clock=clock)
    anna, sven, karin = await make_member("anna"), await make_member("sven"), await make_member("karin")
    room, _ = await open_case(anna, bot, "orebro", LABEL)
    await bring_in(anna, room, sven, "slutenvard")
    await bring_in(anna, room, karin, "kommun")
    ok(await anna.command(room, "!plan admission 2026-11-30 10:00"))
    return bot, anna, sven, karin, room


async def test_the_overdue_reminder_asks_why_and_the_answer_is_recorded_changeable_and_audited(
    make_bot, make_member
) -> None:
    clock = ShiftedClock.starting_at(at(12, 1, 11, 0))  # already past due: the overdue repeat is planned
    bot, anna, sven, _karin, room = await late_case(make_bot, make_member, clock)

    clock.jump_to(at(12, 2, 9, 59, 58))
    bot.running.clock_jumped()
    asking = await sven.wait_for(lambda s: s in overdue_of(sven, room, "inskrivningsmeddelande"), timeout=30)
    asks = asking.content["homeward.reminder"]["asks"]
    assert asks["lanes"] == ["slutenvard"] and {"id": "information", "code": "information"} in asks["reasons"]
    assert "varför" in asking.content["body"] and "<code>hjalpmedel</code>" in asking.content["formatted_body"]
    assert sven.user_id in asking.content["m.mentions"]["user_ids"]

    # One word replied to the question, with punctuation, is the lane's answer.
    answer = await reply(sven, room, asking.event_id, "Information.", bot)
    ok(answer)
    assert answer.content["homeward.command"] == "reason"
    assert (answer.content["homeward.lane"], answer.content["homeward.reason"]) == ("slutenvard", "information")
    # Something else replied by the lane asked is answered with the words to use, and records nothing.
    help_ = await reply(sven, room, asking.event_id, "vi väntar på journalen", bot)
    assert help_.content["homeward.status"] == "error" and "<code>information</code>" in help_.content["formatted_body"]

    changed = await sven.command(room, "!reason inskrivningsmeddelande lakemedel")
    ok(changed)
    assert changed.content["homeward.changed"] is True and "Väntar på information" in changed.content["body"]
    for_lane = await anna.command(room, "!reason inskrivningsmeddelande annat slutenvard")
    ok(for_lane)
    assert for_lane.content["homeward.on_behalf"] is True

    status = await anna.command(room, "!status")
    assert item(status, "inskrivningsmeddelande")["reasons"]["slutenvard"]["reason"] == "annat"
    assert "Slutenvård: Annat" in status.content["body"]

    rows = [r for r in await audit_trail(anna, room) if r["action"] == "delay.reason"]
    assert [(r["actor"], json.loads(r["details"])["reason"]) for r in rows] == [
        (sven.user_id, "information"),
        (sven.user_id, "lakemedel"),
        (anna.user_id, "annat"),
    ]
    assert json.loads(rows[0]["details"])["by_reply"] is True and json.loads(rows[2]["details"])["on_behalf"] is True

    # The next overdue reminder of the item does not ask again: the lane has said why.
    clock.jump_to(at(12, 3, 9, 59, 58))
    bot.running.clock_jumped()
    await sven.wait_for(
        lambda s: s in overdue_of(sven, room, "inskrivningsmeddelande") and s.event_id != asking.event_id, timeout=30
    )
    assert "asks" not in overdue_of(sven, room, "inskrivningsmeddelande")[1].content["homeward.reminder"]


@dataclass
class Scripted:
    bot: BotRunner
    anna: Member
    sven: Member
    karin: Member
    room: str
    clock: ShiftedClock


@pytest.fixture(scope="module")
async def scripted(synapse: LocalSynapse, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Scripted]:
    """One scripted case for the event log and the review (a bot and three people cost ~20 s on a loaded
    machine): the Inskrivningsmeddelande sent five hours late (slutenvård: waiting for information) and
    acknowledged 17 hours late (kommun: waiting for staff). Neither test changes what the other reads: the
    review's test closes the case, and the event log holds the same rows before and after."""
    folder = tmp_path_factory.mktemp("why-children-wait")
    clock = ShiftedClock.starting_at(at(12, 1, 9, 0))
    bot_id = await synapse.register(f"homeward-{uuid.uuid4().hex[:8]}", TEST_PASSWORD)
    bot = BotRunner(bot_config(synapse, folder, user_id=bot_id, password=TEST_PASSWORD), clock)
    await bot.start()
    people: list[Member] = []
    try:
        for name in ("anna", "sven", "karin"):
            user_id = await synapse.register(f"{name}-{uuid.uuid4().hex[:8]}", TEST_PASSWORD)
            people.append(await Member.login(synapse.url, user_id, TEST_PASSWORD, folder / f"client-{name}"))
        anna, sven, karin = people
        room, _ = await open_case(anna, bot, "orebro", LABEL)
        await bring_in(anna, room, sven, "slutenvard")
        await bring_in(anna, room, karin, "kommun")
        ok(await anna.command(room, "!plan admission 2026-11-30 10:00"))
        clock.jump_to(at(12, 1, 15, 0))
        ok(await sven.command(room, "!send inskrivningsmeddelande"))  # five hours late
        ok(await sven.command(room, "!reason inskrivningsmeddelande information"))
        clock.jump_to(at(12, 3, 9, 0))
        ok(await karin.command(room, "!ack inskrivningsmeddelande"))  # due Wednesday 16:00: 17 hours late
        ok(await karin.command(room, "!reason inskrivningsmeddelande personal"))
        yield Scripted(bot, anna, sven, karin, room, clock)
    finally:
        for member in people:
            await member.close()
        await bot.stop()


async def test_the_event_log_of_a_scripted_case_matches_its_schema_and_holds_no_name_or_user_id(
    scripted: Scripted,
) -> None:
    anna, sven, karin, room = scripted.anna, scripted.sven, scripted.karin, scripted.room

    earlier = {s.event_id for s in anna.seen if s.room_id == room and s.content.get("msgtype") == "m.file"}
    answer = await anna.command(room, "!export events ndjson")
    ok(answer)
    file = await audit_file(anna, room, earlier)
    assert LABEL not in file.content["body"] and file.content["body"].endswith(".ndjson")
    text = (await read_file(anna, file)).decode("utf-8")
    for person in (anna, sven, karin):
        assert person.user_id not in text and person.user_id.split(":")[0][1:] not in text
    assert LABEL not in text and "localhost" not in text
    rows = [json.loads(line) for line in text.splitlines()]
    validator = jsonschema.Draft202012Validator(EVENT_SCHEMA, format_checker=jsonschema.FormatChecker())
    for row in rows:
        validator.validate(row)
    assert answer.content["homeward.export"]["rows"] == len(rows)
    late = {(r["event"], r["lane"]): r for r in rows if r["item"] == "inskrivningsmeddelande"}
    assert abs(late[("notice_sent", "slutenvard")]["late_by_hours"] - 5.0) < 0.05
    assert abs(late[("acknowledged", "kommun")]["late_by_hours"] - 17.0) < 0.05
    assert [(r["lane"], r["reason_code"]) for r in rows if r["event"] == "reason_given"] == [
        ("slutenvard", "information"),
        ("kommun", "staff"),
    ]


async def test_the_review_at_the_closing_is_posted_once_not_after_a_restart_and_its_figures_are_the_cases(
    scripted: Scripted,
) -> None:
    bot, anna, room, clock = scripted.bot, scripted.anna, scripted.room, scripted.clock
    clock.jump_to(at(12, 4, 10, 0))
    timeline = await anna.command(room, "!timeline")
    status = await anna.command(room, "!status all")

    closed = await anna.command(room, "!case close force Familjen flyttade")
    ok(closed)
    review = await anna.wait_for(lambda s: s.room_id == room and "homeward.review" in s.content)
    figures = review.content["homeward.review"]
    assert "Genomgång av" in review.content["body"] and "Väntar på personal i kommunen" in review.content["body"]

    # Its figures are the case's: the late steps, their due and done times, as the timeline and status show them.
    late = {(s["item"], s["lane"], s["step"]): s for s in figures["late"]}
    sent = late[("inskrivningsmeddelande", "slutenvard", "send")]
    assert datetime.fromisoformat(sent["due"]) == at(12, 1, 10, 0)  # 24 hours after the admission set with !plan
    # the clock runs on after a jump: "at 15:00" is a few seconds after it
    assert near(datetime.fromisoformat(sent["done"]), at(12, 1, 15, 0)) and abs(sent["days"] - 5 / 24) < 0.01
    receipt = late[("inskrivningsmeddelande", "kommun", "ack")]
    case_item = item(status, "inskrivningsmeddelande")
    mark = next(i for i in timeline.content["homeward.timeline"]["items"] if i["id"] == "inskrivningsmeddelande")
    assert datetime.fromisoformat(receipt["due"]) == datetime.fromisoformat(case_item["due"])
    assert datetime.fromisoformat(receipt["due"]) == datetime.fromisoformat(mark["due"])
    kommun_ack = next(a for a in case_item["acks"] if a["lane"] == "kommun")
    assert datetime.fromisoformat(receipt["done"]) == datetime.fromisoformat(kommun_ack["at"])
    assert (receipt["reason"], receipt["code"]) == ("personal", "staff")
    phases = [p for p in timeline.content["homeward.timeline"]["phases"] if p["state"] != "planned"]
    assert [p["id"] for p in figures["phases"]] == [p["id"] for p in phases]
    assert datetime.fromisoformat(figures["phases"][0]["entered"]) == datetime.fromisoformat(phases[0]["from"])
    assert near(datetime.fromisoformat(figures["closed_at"]), at(12, 4, 10, 0))

    # Once: not again after the bot restarts.
    await bot.stop()
    await bot.start()
    ok(await anna.command(room, "!ping"))
    reviews = [s for s in anna.seen if s.room_id == room and "homeward.review" in s.content]
    assert len(reviews) == 1
    rows = [r for r in await audit_trail(anna, room) if r["action"] == "case.reviewed"]
    assert len(rows) == 1
