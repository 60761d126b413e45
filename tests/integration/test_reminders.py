"""Deadlines turn into reminders at the right local time, to the right people, exactly once."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from homeward.bot.sender import RETRY_S
from homeward.clock import ShiftedClock
from tests.integration.care import bring_in, open_case

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=STOCKHOLM)


def reminders(member, room: str, item: str) -> list:
    return [
        s for s in member.seen if s.room_id == room and (s.content.get("homeward.reminder") or {}).get("item") == item
    ]


async def _case_with_due_notice(make_bot, make_member, clock):
    """An Örebro case whose Inskrivningsmeddelande is due Tuesday 1 Dec 10:00 (24 h after admission)."""
    bot = await make_bot(clock=clock)
    anna, sven = await make_member("anna"), await make_member("sven")
    room, _ = await open_case(anna, bot, "orebro", "Sjostjerne")
    await bring_in(anna, room, sven, "slutenvard")
    answer = await anna.command(room, "!plan admission 2026-11-30 10:00")
    assert answer.content["homeward.status"] == "ok"
    return bot, anna, sven, room


# SQLite only: reminders on PostgreSQL are tests/test_reminder_store.py and tests/test_clock_reminders.py
# (each engine), and two fire on a PostgreSQL store in test_standby_kill.py.
async def test_a_reminder_arrives_at_its_time_and_mentions_the_lane(make_bot, make_member):
    clock = ShiftedClock.starting_at(at(2026, 12, 1, 9, 0))
    bot, _anna, sven, _room = await _case_with_due_notice(make_bot, make_member, clock)
    # A second before it is due, however long the set-up took: the scheduler waits for its time.
    clock.jump_to(at(2026, 12, 1, 9, 59, 59))
    bot.running.clock_jumped()

    reminder = await sven.wait_for(
        lambda s: (s.content.get("homeward.reminder") or {}).get("kind") == "due", timeout=30
    )

    assert reminder.encrypted
    assert reminder.content["homeward.reminder"]["item"] == "inskrivningsmeddelande"
    assert reminder.content["homeward.reminder"]["late"] is False
    assert sven.user_id in reminder.content["m.mentions"]["user_ids"]
    assert "!send inskrivningsmeddelande" in reminder.content["body"]
    assert clock.now() >= at(2026, 12, 1, 10, 0)


async def test_an_overdue_item_escalates_to_the_coordinator(make_bot, make_member):
    clock = ShiftedClock.starting_at(at(2026, 12, 1, 11, 0))  # already past due: no "due" reminder made up
    bot, anna, sven, room = await _case_with_due_notice(make_bot, make_member, clock)
    listed = await anna.command(room, "!reminders")
    assert [(r["item"], r["kind"]) for r in listed.content["homeward.reminders"]] == [
        ("inskrivningsmeddelande", "overdue")
    ]

    clock.jump_to(at(2026, 12, 2, 9, 59, 59))  # the first overdue repeat: next working day, 10:00
    bot.bot.clock_jumped()
    overdue = await anna.wait_for(
        lambda s: (s.content.get("homeward.reminder") or {}).get("kind") == "overdue", timeout=30
    )

    assert set(overdue.content["m.mentions"]["user_ids"]) == {sven.user_id, anna.user_id}
    assert len(reminders(anna, room, "inskrivningsmeddelande")) == 1


async def test_acknowledging_stops_the_reminders_of_the_item(make_bot, make_member):
    clock = ShiftedClock.starting_at(at(2026, 12, 1, 9, 0))
    _bot, anna, sven, room = await _case_with_due_notice(make_bot, make_member, clock)
    karin, olle = await make_member("karin"), await make_member("olle")
    await bring_in(anna, room, karin, "kommun")
    await bring_in(anna, room, olle, "oppenvard")
    before = await anna.command(room, "!reminders")
    assert any(r["item"] == "inskrivningsmeddelande" for r in before.content["homeward.reminders"])

    await sven.command(room, "!send inskrivningsmeddelande")
    await karin.command(room, "!ack inskrivningsmeddelande")
    await olle.command(room, "!ack inskrivningsmeddelande")
    after = await anna.command(room, "!reminders")

    assert all(r["item"] != "inskrivningsmeddelande" for r in after.content["homeward.reminders"])


async def test_quiet_hours_move_a_reminder_to_the_morning(make_bot, make_member):
    clock = ShiftedClock.starting_at(at(2026, 12, 1, 9, 0))
    _bot, anna, _sven, room = await _case_with_due_notice(make_bot, make_member, clock)

    await anna.command(room, "!plan admission 2026-11-30 21:30")  # due Tue 21:30, inside quiet hours
    listed = await anna.command(room, "!reminders")

    due = next(r for r in listed.content["homeward.reminders"] if r["kind"] == "due")
    assert datetime.fromisoformat(due["at"]).astimezone(STOCKHOLM) == at(2026, 12, 2, 8, 0)
    off = await anna.command(room, "!settings quiet off")
    assert off.content["homeward.status"] == "ok"
    listed = await anna.command(room, "!reminders")
    due = next(r for r in listed.content["homeward.reminders"] if r["kind"] == "due")
    assert datetime.fromisoformat(due["at"]).astimezone(STOCKHOLM) == at(2026, 12, 1, 21, 30)


async def test_remind_and_snooze_answer_bad_input_clearly(make_bot, make_member):
    clock = ShiftedClock.starting_at(at(2026, 12, 1, 9, 0))
    _bot, anna, sven, room = await _case_with_due_notice(make_bot, make_member, clock)

    bad_when = await anna.command(room, "!remind inskrivningsmeddelande next blue moon")
    bad_span = await sven.command(room, "!snooze inskrivningsmeddelande forever")
    ok = await anna.command(room, "!remind inskrivningsmeddelande i morgon 09:00")
    snoozed = await sven.command(room, "!snooze inskrivningsmeddelande 2h")

    assert bad_when.content["homeward.status"] == "error" and "2026-12-01 10:00" in bad_when.content["body"]
    assert bad_span.content["homeward.status"] == "error" and "30m" in bad_span.content["body"]
    assert ok.content["homeward.status"] == "ok"
    assert datetime.fromisoformat(ok.content["homeward.at"]).astimezone(STOCKHOLM) == at(2026, 12, 2, 9, 0)
    assert snoozed.content["homeward.status"] == "ok"


async def _failed_sends_of_reminders(bot) -> int:
    """How many times the bot tried to send a reminder and could not (the store's count)."""
    async with (
        bot.bot.store.read() as db,
        db.execute(
            "SELECT coalesce(sum(attempts), 0) FROM outbox WHERE sent_at IS NULL AND content LIKE '%homeward.reminder%'"
        ) as cur,
    ):
        (attempts,) = await cur.fetchone()
    return attempts


async def test_a_reminder_due_while_the_homeserver_is_down_is_sent_once_when_it_is_back(make_bot, make_member, synapse):
    """The homeserver is away until the bot has tried to send the reminder and given up for now, and
    for one more round of the sender (RETRY_S). A long outage in the middle of a burst, with a
    reminder coming due in it, is test_outage.py's; this one is about the reminder alone."""
    clock = ShiftedClock.starting_at(at(2026, 12, 1, 9, 0))
    bot, anna, sven, room = await _case_with_due_notice(make_bot, make_member, clock)
    # Everything the set-up queued is delivered first: a row of the room still waiting would go before the
    # reminder (each room in order), and the reminder would never be tried while the homeserver is away.
    await asyncio.wait_for(bot.bot.sender.idle.wait(), 30)

    await synapse.stop()
    clock.jump_to(at(2026, 12, 1, 10, 0, 1))  # the due reminder comes due while the homeserver is away
    bot.bot.clock_jumped()
    began = time.monotonic()
    try:
        while await _failed_sends_of_reminders(bot) < 1 and time.monotonic() - began < 60:
            await asyncio.sleep(0.1)
        await asyncio.sleep(RETRY_S)  # and the sender's next round finds the homeserver away too
    finally:
        await synapse.start()
    assert await _failed_sends_of_reminders(bot) >= 1

    reminder = await sven.wait_for(
        lambda s: (s.content.get("homeward.reminder") or {}).get("kind") == "due", timeout=60
    )
    await anna.command(room, "!ping")  # everything before this answer has been delivered
    assert reminder.content["homeward.reminder"]["item"] == "inskrivningsmeddelande"
    assert (
        len(
            [
                r
                for r in reminders(sven, room, "inskrivningsmeddelande")
                if r.content["homeward.reminder"]["kind"] == "due"
            ]
        )
        == 1
    )


async def test_a_new_discharge_date_renews_the_inskrivningsmeddelande(make_bot, make_member):
    clock = ShiftedClock.starting_at(at(2026, 12, 1, 9, 0))
    _bot, anna, sven, room = await _case_with_due_notice(make_bot, make_member, clock)
    karin = await make_member("karin")
    await bring_in(anna, room, karin, "kommun")
    await anna.command(room, "!plan discharge 2026-12-14")
    await sven.command(room, "!send inskrivningsmeddelande")
    await karin.command(room, "!ack inskrivningsmeddelande")

    changed = await anna.command(room, "!plan discharge 2026-12-16")
    status = await anna.command(room, "!status")

    assert "inskrivningsmeddelande" in changed.content["body"]
    notice = next(i for i in status.content["homeward.case"]["items"] if i["id"] == "inskrivningsmeddelande")
    assert notice["acks"] == [] and notice["state"] != "done"
    again = await karin.command(room, "!ack inskrivningsmeddelande")
    assert again.content["homeward.status"] == "error"  # not sent again yet
