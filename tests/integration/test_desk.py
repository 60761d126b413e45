"""The coordinator's desk on the real homeserver: every case at a glance (`!cases`), the morning
worklist, a case that ends (`!case close`, `!case reopen`) and one handed over (`!handover`).

Time is the bot's shifted clock (as in test_reminders.py): days pass in seconds. The `!cases`
scenario shares one set-up for the module (two coordinators, four cases on both pathways);
its tests run in order and each adds one step.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from homeward.clock import ShiftedClock
from homeward.config import Config
from homeward.store.rows import one_row
from tests.conftest import TEST_PASSWORD
from tests.harness import BotProcess, BotRunner, Member, Seen
from tests.integration.care import bring_in, ok, open_case_in, refused
from tests.integration.conftest import direct_room

OSLO = ZoneInfo("Europe/Oslo")


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=OSLO)


def lines(answer: Seen) -> dict[str, dict]:
    """`homeward.cases` by label."""
    return {case["label"]: case for case in answer.content["homeward.cases"]}


def worklists(member: Member, dm: str) -> list[Seen]:
    """The morning worklists the bot sent to this person's direct chat (not `!digest` answers)."""
    return [s for s in member.seen if s.room_id == dm and "homeward.digest_run" in s.content]


def worklist_of(dm: str, day: str):
    return lambda s: s.room_id == dm and (s.content.get("homeward.digest_run") or {}).get("day") == day


async def planned_days(bot: BotRunner, user_id: str) -> list[str]:
    async with (
        bot.store.read() as db,
        db.execute("SELECT day FROM digests WHERE user_id = ? AND status = 'planned' ORDER BY day", (user_id,)) as cur,
    ):
        return [r["day"] for r in await cur.fetchall()]


async def until_status(bot: BotRunner, user_id: str, day: str, timeout: float = 30) -> str:
    """The status of a person's worklist row of `day`, once it is no longer planned."""
    for _ in range(int(timeout / 0.1)):
        async with (
            bot.store.read() as db,
            db.execute("SELECT status FROM digests WHERE user_id = ? AND day = ?", (user_id, day)) as cur,
        ):
            row = await cur.fetchone()
        if row is not None and row["status"] != "planned":
            return row["status"]
        await asyncio.sleep(0.1)
    raise AssertionError(f"the worklist of {day} was never fired")


# -- !cases: two coordinators, four cases on both pathways -------------------------------------


@dataclass
class Desk:
    bot: BotRunner
    clock: ShiftedClock
    people: dict[str, Member]
    dm: dict[str, str]
    rooms: dict[str, str]


@pytest.fixture(scope="module")
async def desk(synapse, tmp_path_factory) -> AsyncIterator[Desk]:
    """Tuesday 1 December 2026, 09:00. Anna coordinates Ekorre (Örebro, Inskrivningsmeddelande due
    10:00, Sven and Karin on the team) and Blaval (Telemark); Berit coordinates Gran (Telemark) and
    Hare (Örebro). Olle is on no case."""
    folder = tmp_path_factory.mktemp("desk")

    async def user(prefix: str) -> str:
        return await synapse.register(f"{prefix}-{uuid.uuid4().hex[:8]}", TEST_PASSWORD)

    clock = ShiftedClock.starting_at(at(2026, 12, 1, 9, 0))
    config = Config.model_validate(
        {
            "homeserver": synapse.url,
            "user_id": await user("homeward"),
            "password": TEST_PASSWORD,
            "data_dir": folder / "bot",
            "allowed_inviters": [f"*:{synapse.server_name}"],
            "case_openers": [f"*:{synapse.server_name}"],
            "language": "en",
            "timezone": "Europe/Oslo",
        }
    )
    bot = BotRunner(config, clock)
    await bot.start()
    people = {}
    for name in ("anna", "berit", "sven", "karin", "olle"):
        people[name] = await Member.login(synapse.url, await user(name), TEST_PASSWORD, folder / f"client-{name}")
    try:
        dm = {name: await direct_room(people[name], bot) for name in ("anna", "berit", "sven", "olle")}
        rooms = {}
        for coordinator, pathway, label in (
            ("anna", "orebro", "Ekorre"),
            ("anna", "sthf", "Blaval"),
            ("berit", "sthf", "Gran"),
            ("berit", "orebro", "Hare"),
        ):
            rooms[label], _ = await open_case_in(people[coordinator], dm[coordinator], pathway, label)
        anna = people["anna"]
        ok(await anna.command(rooms["Ekorre"], "!plan admission 2026-11-30 10:00"))
        await bring_in(anna, rooms["Ekorre"], people["sven"], "slutenvard")
        await bring_in(anna, rooms["Ekorre"], people["karin"], "kommun")
        yield Desk(bot, clock, people, dm, rooms)
    finally:
        for member in people.values():
            await member.close()
        await bot.stop()


async def test_each_coordinator_gets_a_line_per_case_of_their_own_the_most_urgent_first(desk: Desk):
    anna, berit = desk.people["anna"], desk.people["berit"]

    mine = await anna.command(desk.dm["anna"], "!cases")
    theirs = await berit.command(desk.dm["berit"], "!cases")

    ok(mine)
    assert [c["label"] for c in mine.content["homeward.cases"]] == ["Ekorre", "Blaval"]
    assert set(lines(theirs)) == {"Gran", "Hare"}
    ekorre, blaval = lines(mine)["Ekorre"], lines(mine)["Blaval"]
    assert (ekorre["pathway"], ekorre["phase"], ekorre["state"], ekorre["room_id"]) == (
        "orebro",
        "identifiering",
        "open",
        desk.rooms["Ekorre"],
    )
    assert ekorre["next_due"]["item"] == "inskrivningsmeddelande" and ekorre["next_due"]["lane"] == "slutenvard"
    assert datetime.fromisoformat(ekorre["next_due"]["at"]) == at(2026, 12, 1, 10, 0)
    assert (ekorre["overdue"], ekorre["awaiting"], ekorre["consents_pending"]) == (0, [], [])
    assert blaval["pathway"] == "sthf" and blaval["next_due"]["item"] == "planleggingsmote-1"
    assert datetime.fromisoformat(blaval["last_activity"]) <= desk.clock.now()
    # Each line links to its room (Element opens matrix.to links), and names what is next.
    assert f"https://matrix.to/#/{desk.rooms['Ekorre']}" in mine.content["formatted_body"]
    assert "inskrivningsmeddelande" in mine.content["body"] and "07:30" in mine.content["body"]


async def test_a_member_sees_the_case_and_someone_on_no_case_is_told_how_cases_are_opened(desk: Desk):
    member = await desk.people["sven"].command(desk.dm["sven"], "!cases")
    nobody = await desk.people["olle"].command(desk.dm["olle"], "!cases")

    assert set(lines(member)) == {"Ekorre"}
    ok(nobody)
    assert nobody.content["homeward.cases"] == [] and "!case new" in nobody.content["body"]


async def test_after_a_notice_is_sent_and_acknowledged_the_line_shows_who_still_owes_a_receipt(desk: Desk):
    sven, karin, anna = desk.people["sven"], desk.people["karin"], desk.people["anna"]
    ok(await sven.command(desk.rooms["Ekorre"], "!send inskrivningsmeddelande"))
    waiting = lines(await anna.command(desk.dm["anna"], "!cases"))["Ekorre"]
    ok(await karin.command(desk.rooms["Ekorre"], "!ack inskrivningsmeddelande"))
    after = lines(await anna.command(desk.dm["anna"], "!cases"))["Ekorre"]

    assert waiting["awaiting"] == [
        {"item": "inskrivningsmeddelande", "lane": "kommun"},
        {"item": "inskrivningsmeddelande", "lane": "oppenvard"},
    ]
    assert after["awaiting"] == [{"item": "inskrivningsmeddelande", "lane": "oppenvard"}]
    assert datetime.fromisoformat(after["last_activity"]) > datetime.fromisoformat(waiting["last_activity"])


async def test_a_closed_case_leaves_the_list_shows_in_cases_all_and_comes_back_when_reopened(desk: Desk):
    anna, room = desk.people["anna"], desk.rooms["Blaval"]
    ok(await anna.command(room, "!case close force the family moved away"))
    open_ = await anna.command(desk.dm["anna"], "!cases")
    everything = await anna.command(desk.dm["anna"], "!cases all")
    ok(await anna.command(room, "!case reopen they came back"))
    again = await anna.command(desk.dm["anna"], "!cases")

    assert set(lines(open_)) == {"Ekorre"}
    assert [c["label"] for c in everything.content["homeward.cases"]] == ["Ekorre", "Blaval"]  # closed ones last
    assert lines(everything)["Blaval"]["state"] == "closed" and lines(everything)["Blaval"]["next_due"] is None
    assert (
        lines(again)["Blaval"]["state"] == "open" and lines(again)["Blaval"]["next_due"]["item"] == "planleggingsmote-1"
    )


async def test_cases_is_answered_only_in_a_chat_with_the_bot_alone(desk: Desk):
    anna = desk.people["anna"]
    group = await anna.create_room(invite=[desk.bot.user_id, desk.people["olle"].user_id], direct=False)
    await anna.wait_for_membership(group, desk.bot.user_id, "join")

    answer = await anna.command(group, "!cases")

    refused(answer, "direct chat")
    assert answer.content["homeward.reason"] == "error.only_in_private_chat"
    assert "Ekorre" not in answer.content["body"] and "homeward.cases" not in answer.content


async def test_cases_is_answered_only_when_the_chat_and_the_command_are_end_to_end_encrypted(desk: Desk):
    anna = desk.people["anna"]
    plain = await anna.create_room(invite=[desk.bot.user_id], encrypted=False)
    await anna.wait_for_membership(plain, desk.bot.user_id, "join")

    in_clear = await anna.command(plain, "!cases")
    sent = await anna.send_unencrypted(desk.dm["anna"], "!cases")  # a clear-text command in her encrypted chat
    also = await anna.wait_for(
        lambda s: (s.content.get("m.relates_to") or {}).get("m.in_reply_to", {}).get("event_id") == sent
    )
    async with (
        desk.bot.store.read() as db,
        db.execute("SELECT direct_room FROM people WHERE user_id = ?", (anna.user_id,)) as cur,
    ):
        worklist_chat = (await one_row(cur))["direct_room"]

    for answer in (in_clear, also):
        assert answer.content["homeward.reason"] == "error.private_chat_not_encrypted"
        assert "Ekorre" not in answer.content["body"] and "homeward.cases" not in answer.content
    assert worklist_chat == desk.dm["anna"]  # the plain chat never becomes where her worklist goes


async def test_closing_is_refused_with_open_mandatory_items_stops_reminders_and_reopening_restores_them(desk: Desk):
    anna, clock, bot = desk.people["anna"], desk.clock, desk.bot
    room, _ = await open_case_in(anna, desk.dm["anna"], "orebro", "Lodjur")
    ok(await anna.command(room, "!plan admission 2026-11-30 10:00"))  # Inskrivningsmeddelande due today 10:00
    before = await anna.command(room, "!reminders")

    blocked = await anna.command(room, "!case close done")
    closed = await anna.command(room, "!case close force the child moved to another region")
    none = await anna.command(room, "!reminders")
    change = await anna.command(room, "!plan discharge 2026-12-14")
    status = await anna.command(room, "!status")
    summary = await anna.wait_for(
        lambda s: s.room_id == room and "!case reopen" in (s.content.get("m.new_content") or {}).get("body", "")
    )

    assert ("inskrivningsmeddelande", "due") in [(r["item"], r["kind"]) for r in before.content["homeward.reminders"]]
    refused(blocked, "!case close force")
    assert blocked.content["homeward.reason"] == "case.close_blocked"
    ok(closed)
    assert none.content["homeward.reminders"] == []
    refused(change, "!case reopen")
    assert change.content["homeward.reason"] == "error.case_closed"
    assert status.content["homeward.case"]["state"] == "closed"
    assert status.content["homeward.case"]["closed_reason"] == "the child moved to another region"
    assert "homeward.checklist" in summary.content["m.new_content"]

    clock.jump_to(at(2026, 12, 1, 10, 0, 5))  # past the due time: no reminder may come
    bot.running.clock_jumped()
    await anna.command(room, "!ping")
    await asyncio.sleep(2)
    assert not [s for s in anna.seen if s.room_id == room and "homeward.reminder" in s.content]

    ok(await anna.command(room, "!case reopen closed in the wrong room"))
    planned = await anna.command(room, "!reminders")
    assert ("inskrivningsmeddelande", "overdue") in [
        (r["item"], r["kind"]) for r in planned.content["homeward.reminders"]
    ]
    clock.jump_to(at(2026, 12, 2, 9, 59, 59))  # the first overdue repeat: the next working day, 10:00
    bot.running.clock_jumped()
    overdue = await anna.wait_for(
        lambda s: s.room_id == room and (s.content.get("homeward.reminder") or {}).get("kind") == "overdue"
    )
    assert overdue.content["homeward.reminder"]["item"] == "inskrivningsmeddelande"


# -- the morning worklist -----------------------------------------------------------------------


async def test_the_worklist_comes_once_on_working_days_not_with_nothing_to_say_and_follows_a_handover(
    make_bot, make_member
):
    """Thursday 31 December 2026, 07:30: Anna's worklist comes (her case waits for a guardian's
    consents); Berit's case has nothing to say, so she gets none. Friday 1 January is a public
    holiday and then the weekend: the next is Monday's. Anna hands her case to Berit: on Tuesday
    the worklist with it is Berit's, and Anna gets none."""
    clock = ShiftedClock.starting_at(at(2026, 12, 31, 7, 27, 0))
    bot = await make_bot(clock=clock)
    anna, berit, mor = await make_member("anna"), await make_member("berit"), await make_member("mor")
    dm_a, dm_b = await direct_room(anna, bot), await direct_room(berit, bot)
    room, _ = await open_case_in(anna, dm_a, "sthf", "Ugle")
    ok(await anna.command(room, f"!invite {mor.user_id} foresatt"))  # her consents are pending
    ok(await anna.command(room, f"!invite {berit.user_id} kommunen"))
    await open_case_in(berit, dm_b, "sthf", "Mus")  # a new case: nothing due, nothing awaited
    assert clock.now() < at(2026, 12, 31, 7, 30)

    clock.jump_to(at(2026, 12, 31, 7, 29, 59))
    bot.running.clock_jumped()
    thursday = await anna.wait_for(worklist_of(dm_a, "2026-12-31"))

    assert thursday.encrypted and thursday.content["homeward.digest_run"]["late"] is False
    assert datetime.fromisoformat(thursday.content["homeward.digest_run"]["planned_at"]) == at(2026, 12, 31, 7, 30)
    assert [c["label"] for c in thursday.content["homeward.digest"]] == ["Ugle"]
    assert thursday.content["homeward.digest"][0]["consents_pending"] == ["dokumentasjon", "individuell-plan"]
    assert "!consent ask" in thursday.content["body"]
    assert f"https://matrix.to/#/{room}" in thursday.content["formatted_body"]
    assert anna.user_id in thursday.content["m.mentions"]["user_ids"]
    assert thursday.content["msgtype"] == "m.text"  # a worklist notifies its coordinator (Element silences an m.notice)
    assert await until_status(bot, berit.user_id, "2026-12-31") == "empty"
    assert await planned_days(bot, anna.user_id) == ["2027-01-04"]  # not on New Year's Day, not on the weekend

    clock.jump_to(at(2027, 1, 4, 7, 29, 59))
    bot.running.clock_jumped()
    await anna.wait_for(worklist_of(dm_a, "2027-01-04"))
    assert [w.content["homeward.digest_run"]["day"] for w in worklists(anna, dm_a)] == ["2026-12-31", "2027-01-04"]

    ok(await anna.command(room, f"!handover {berit.user_id} over til deg"))
    assert await planned_days(bot, anna.user_id) == []
    clock.jump_to(at(2027, 1, 5, 7, 29, 59))
    bot.running.clock_jumped()
    tuesday = await berit.wait_for(worklist_of(dm_b, "2027-01-05"))
    await anna.command(dm_a, "!ping")

    assert "Ugle" in [c["label"] for c in tuesday.content["homeward.digest"]]
    assert [w.content["homeward.digest_run"]["day"] for w in worklists(berit, dm_b)] == ["2027-01-05"]
    assert len(worklists(anna, dm_a)) == 2


def _config(path: Path, synapse, user_id: str, password: str, shift: float) -> None:
    path.write_text(
        f'homeserver = "{synapse.url}"\nuser_id = "{user_id}"\npassword = "{password}"\n'
        f'data_dir = "data"\nallowed_inviters = ["*:{synapse.server_name}"]\n'
        f'case_openers = ["*:{synapse.server_name}"]\n'
        f'language = "en"\n'
        f'timezone = "Europe/Oslo"\ntime_shift_seconds = {shift}\n',
        encoding="utf-8",
    )


async def test_a_worklist_due_while_the_bot_was_killed_comes_once_and_late(synapse, new_user, make_member, tmp_path):
    user_id, password = await new_user(prefix="homeward")
    config = tmp_path / "homeward.toml"
    shift = (at(2026, 12, 31, 7, 28, 30) - datetime.now(UTC)).total_seconds()
    _config(config, synapse, user_id, password, shift)
    bot = BotProcess(config, tmp_path / "bot.log")
    await bot.start()
    try:
        anna, mor = await make_member("anna"), await make_member("mor")
        runner = type("Runner", (), {"user_id": user_id})()
        dm = await direct_room(anna, runner)
        room, _ = await open_case_in(anna, dm, "sthf", "Ugle")
        ok(await anna.command(room, f"!invite {mor.user_id} foresatt"))
        await bot.kill()  # SIGKILL before 07:30 of its clock; it comes back three minutes (of its time) later
        assert datetime.now(UTC).timestamp() + shift < at(2026, 12, 31, 7, 30).timestamp()
        _config(config, synapse, user_id, password, shift + 180)
        await bot.start()

        worklist = await anna.wait_for(worklist_of(dm, "2026-12-31"), timeout=60)
        await anna.command(dm, "!ping", timeout=30)
        await asyncio.sleep(2)  # a second one would have arrived by now
    finally:
        await bot.stop()

    assert len(worklists(anna, dm)) == 1
    run = worklist.content["homeward.digest_run"]
    assert run["late"] is True and datetime.fromisoformat(run["planned_at"]) == at(2026, 12, 31, 7, 30)
    assert "07:30" in worklist.content["body"]


# -- a case's end: retention -------------------------------------------------------------------------


async def test_a_closed_case_past_its_retention_is_announced_removed_and_the_bot_leaves_its_room(make_bot, make_member):
    clock = ShiftedClock.starting_at(at(2026, 12, 1, 9, 0))
    bot = await make_bot(clock=clock, retention_days=30)
    anna = await make_member("anna")
    dm = await direct_room(anna, bot)
    room, _ = await open_case_in(anna, dm, "sthf", "Oter")
    closed = await anna.command(room, "!case close force the family moved abroad")
    assert "30" in closed.content["body"]

    clock.jump_to(at(2026, 12, 31, 9, 0, 5))  # 30 days later, a working day, outside quiet hours
    bot.running.clock_jumped()
    notice = await anna.wait_for(lambda s: s.room_id == room and "🗄️" in s.content.get("body", ""))
    await anna.wait_for_membership(room, bot.user_id, "leave")
    listed = await anna.command(dm, "!cases all")

    assert (
        "`dokumentasjon`" in notice.content["body"]
    )  # no last export: the consent that covers exports was never given
    assert listed.content["homeward.cases"] == []
    async with bot.store.read() as db:
        async with db.execute("SELECT COUNT(*) FROM outbox WHERE room_id = ? AND content != '{}'", (room,)) as cur:
            assert (await one_row(cur))[0] == 0  # nothing the bot said in the room is kept
        async with db.execute("SELECT action FROM audit WHERE room_id = ? ORDER BY id DESC LIMIT 1", (room,)) as cur:
            assert (await one_row(cur))[0] == "case.purged"
