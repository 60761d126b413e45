"""The family's side of the room on the real Synapse: their own `!status` and `!help`, the regular word,
the family's tasks ticked by a guardian, and a date that completes a task.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from homeward.clock import ShiftedClock
from tests.integration.care import bring_in, mentioned, ok, open_case

STOCKHOLM = ZoneInfo("Europe/Stockholm")
ITEM_ID = re.compile(r"`[a-z0-9]+(?:-[a-z0-9]+)+`")


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=STOCKHOLM)


async def test_a_guardian_reads_the_case_in_plain_words_and_gets_a_word_once_each_period(make_bot, make_member):
    clock = ShiftedClock.starting_at(at(2026, 11, 30, 10, 0))  # a Monday
    bot = await make_bot(clock=clock)
    anna, sara, maria = [await make_member(n) for n in ("anna", "sara", "maria")]
    room, _ = await open_case(anna, bot, "orebro", "Sjostjarna")
    ok(await anna.command(room, f"!role {anna.user_id} oppenvard coordinator"))
    ok(await anna.command(room, "!settings update 1"))  # every working day: tomorrow at 16:00
    await bring_in(anna, room, sara, "slutenvard")
    await bring_in(anna, room, maria, "vardnadshavare")

    # A date that completes a task: the admission date makes "Blir inskriven på sjukhus" done.
    admitted = await anna.command(room, "!plan admission 2026-11-30 09:00")
    assert admitted.content["homeward.completed"] == ["inskrivning"]

    # Her greeting's details tell her how to hear only what concerns her (staff chatter stays quiet).
    details = await maria.wait_for(
        lambda s: s.room_id == room and s.content.get("homeward.greeting_details") == maria.user_id
    )
    assert "@omnämnanden och nyckelord" in details.content["body"] and mentioned(details) == []
    staff = await sara.wait_for(
        lambda s: s.room_id == room and s.content.get("homeward.greeting_details") == sara.user_id
    )
    assert "omnämnanden" not in staff.content["body"]  # care staff are not told to mute the room

    status = await maria.command(room, "!status")
    ok(status)
    assert status.content["homeward.view"] == "family" and "Nu: **Identifiering, Bedömning**" in status.content["body"]
    assert "1 av 5 saker i det här steget är klara" in status.content["body"]
    assert not ITEM_ID.search(status.content["body"])
    shown = await maria.command(room, "!help")
    assert "tryck **Ja** eller **Nej**" in shown.content["body"] and "!ack" not in shown.content["body"]

    # The family's task, ticked by the guardian (the family's lane has nobody in it: she acts for it).
    ticked = await maria.command(room, "!ack samtycke-sip")
    ok(ticked)
    assert ticked.content["homeward.lane"] == "patient"

    # Tuesday 16:00: the word to the family, naming her, once.
    clock.jump_to(at(2026, 12, 1, 16, 0, 2))
    bot.bot.clock_jumped()
    word = await maria.wait_for(lambda s: s.room_id == room and "homeward.family_update" in s.content, timeout=60)
    assert mentioned(word) == [maria.user_id] and word.content["msgtype"] == "m.text"
    assert "besked om" in word.content["body"] and "Nu: Identifiering, Bedömning." in word.content["body"]
    bot.bot.clock_jumped()  # woken again: nothing more goes out for this period
    await maria.command(room, "!ping")
    assert len([s for s in maria.seen if "homeward.family_update" in s.content]) == 1
