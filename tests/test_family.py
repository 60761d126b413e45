"""The family's own view, its regular word, and the items the family ticks, run on a store.

A guardian's `!status` and `!help` speak plain words without item ids; `!status all` and `!help all`
still list everything. Every few working days (default 5) the family gets a short update naming
them, also when nothing changed, exactly once per period; a room can change how often or turn it
off. The family's tasks sit in the family's lane and the guardians tick them; a task that a date
completes (pathway data, `sets_date`) is done when the date is set.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from homeward.matrix.content import MENTION_MAX_CHARS
from homeward.store import cases, outbox
from homeward.store import updates as update_rows
from homeward.store.db import Store
from homeward.store.state import remember_room
from homeward.work.updates import fire_family_update
from tests.test_phone import ANNA, DM, JONAS, KARIN, MARIA, PATHWAYS, ROOM, SARA, START, Walk, shown

ITEM_ID = re.compile(r"`[a-z0-9]+(?:-[a-z0-9]+)+`")  # an item id in code, as the care team's views show them


@pytest.fixture
async def walk(tmp_path: Path):
    store = await Store.open(tmp_path / "homeward.sqlite3")
    w = Walk(store, PATHWAYS)
    async with store.transaction() as db:
        await remember_room(db, DM, "direct", "sv", START)
        await remember_room(db, ROOM, "case", "sv", START)
        case_id = await cases.open_case(
            db,
            pathway_id="orebro",
            label="Sjostjarna",
            phase_id="identifiering",
            opened_by=ANNA,
            opened_in=DM,
            create_outbox=0,
            now=START,
        )
        await cases.bind_room(db, 0, ROOM)
        await cases.put_member(db, case_id, ANNA, "oppenvard", True, ANNA, START)
        checklist = await outbox.enqueue(db, ROOM, "m.room.message", {"body": "checklist"}, START)
        await cases.put_checklist(db, case_id, "identifiering", checklist)
    for user, lane in ((SARA, "slutenvard"), (KARIN, "kommun"), (MARIA, "vardnadshavare"), (JONAS, "vardnadshavare")):
        await w.run(f"!invite {user} {lane}")
        await w.join(user)
    yield w
    await store.close()


async def planned(w: Walk) -> list[tuple[int, datetime]]:
    async with w.store.read() as db:
        return [(u.id, u.planned_at) for u in await update_rows.planned(db, 1)]


async def updates_sent(w: Walk) -> list[dict]:
    return [c for c in await w.queued() if "homeward.family_update" in c]


async def test_a_guardians_status_says_where_we_are_what_comes_next_whom_we_wait_for_and_what_we_need(walk: Walk):
    w = walk
    await w.run("!plan sip_meeting 2026-12-04 10:00")
    answer = await w.run("!status", MARIA)
    body = answer["body"]

    assert answer["homeward.view"] == "family"
    assert "Nu: **Identifiering, Bedömning** (steg 1 av 4)" in body
    assert "SIP-möte på sjukhus fredag 4 december kl. 10:00" in body
    assert "Vi väntar på: **Kommun** (" in body and "**Slutenvård** (" in body
    assert "ditt svar på **Samtycke till informationsöverföringen i Lifecare SP**" in body
    assert "Blir inskriven på sjukhus" in body  # the family's own task, by its title
    assert not ITEM_ID.search(body), "no item ids for the family"
    assert "pending" not in body and "!ack" not in body
    everything = await w.run("!status all", MARIA)
    assert "`inskrivningsmeddelande`" in everything["body"]  # the full list is there when asked for


async def test_a_care_member_still_gets_the_full_status(walk: Walk):
    answer = await walk.run("!status", SARA)
    assert "homeward.view" not in answer and "`inskrivningsmeddelande`" in answer["body"]


async def test_a_guardians_help_is_what_they_do_here_in_plain_words_and_help_all_lists_every_command(walk: Walk):
    short = await walk.run("!help", MARIA)
    full = await walk.run("!help all", MARIA)

    assert short["homeward.view"] == "family"
    assert "tryck **Ja** eller **Nej**" in short["body"] and "@omnämnanden och nyckelord" in short["body"]
    assert "!ack" not in short["body"] and "!remind" not in short["body"] and "!send" not in short["body"]
    assert len(short["body"]) < len(full["body"]) / 2
    assert "!consent yes" in full["body"] and "consent yes" in full["homeward.commands"]


async def test_the_family_gets_a_word_every_five_working_days_once_naming_them_also_with_no_news(walk: Walk):
    w = walk
    [(update_id, at)] = await planned(w)
    assert at == datetime(2026, 12, 7, 15, 0, tzinfo=UTC)  # Monday 30 Nov + 5 working days, 16:00 in Örebro
    w.clock.set(START + timedelta(days=1))
    await w.run("!ack konsultation", SARA)  # something the team did in the week

    w.clock.set(at + timedelta(seconds=1))
    first = await fire_family_update(w.store, w.services, update_id)
    again = await fire_family_update(w.store, w.services, update_id)
    [update] = await updates_sent(w)

    assert (first, again) == (True, False)  # once per period
    assert update["m.mentions"]["user_ids"] == sorted([MARIA, JONAS]) and update["msgtype"] == "m.text"
    assert shown(update) <= MENTION_MAX_CHARS
    assert "Nu: Identifiering, Bedömning." in update["body"] and "Vi väntar på Kommun, Slutenvård" in update["body"]
    assert "1 sak gjord sedan sist" in update["body"]
    [(next_id, next_at)] = await planned(w)
    assert next_id != update_id and next_at == datetime(2026, 12, 14, 15, 0, tzinfo=UTC)

    # A week in which nothing happened: still a word, saying so.
    w.clock.set(next_at + timedelta(seconds=1))
    assert await fire_family_update(w.store, w.services, next_id)
    quiet = (await updates_sent(w))[-1]
    assert "inget nytt sedan sist" in quiet["body"]


async def test_a_room_sets_how_often_or_turns_the_word_off(walk: Walk):
    w = walk
    answer = await w.run("!settings update 2")
    [(_, at)] = await planned(w)
    off = await w.run("!settings update off")

    assert "2 arbetsdagar" in answer["body"]
    assert at == datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
    assert await planned(w) == [] and "inga regelbundna besked" in off["body"]
    refused = await w.run_refused("!settings update 99")
    assert refused["homeward.reason"] == "family.bad_update"
    guardian = await w.run_refused("!settings update 3", MARIA)
    assert guardian["homeward.reason"] == "permission.coordinators_only"


async def test_a_closed_case_gets_no_word(walk: Walk):
    w = walk
    [(update_id, at)] = await planned(w)
    await w.run("!case close force moved away")
    assert await planned(w) == []
    w.clock.set(at + timedelta(seconds=1))
    assert not await fire_family_update(w.store, w.services, update_id)
    assert await updates_sent(w) == []


async def test_the_family_lane_says_who_acts_for_it_and_a_guardian_ticks_its_task(walk: Walk):
    w = walk
    checklists = [c for c in await w.queued() if "homeward.checklist" in c or "m.new_content" in c]
    latest = checklists[-1].get("m.new_content", checklists[-1])
    patient = next(line for line in latest["body"].splitlines() if line.startswith("**Patient/Närstående**"))
    assert "ingen än" not in patient and "görs av familjen" in patient and MARIA in patient

    answer = await w.run("!ack konsultation", SARA)  # a care lane's task, ticked by its lane
    assert answer["homeward.state"] == "done"
    answer = await w.run("!ack samtycke-sip", MARIA)  # not in this phase, but the family's: a guardian may
    assert answer["homeward.lane"] == "patient"


async def test_setting_the_admission_date_completes_the_admission_task(walk: Walk):
    answer = await walk.run("!plan admission 2026-11-30 09:00")
    assert answer["homeward.completed"] == ["inskrivning"]
    assert "Datumet gör det här klart: **Blir inskriven på sjukhus**" in answer["body"]
    status = await walk.run("!status all")
    inskrivning = next(i for i in status["homeward.case"]["items"] if i["id"] == "inskrivning")
    assert inskrivning["state"] == "done"
    # A later phase's task that fixes a date is not done by setting it early (the preliminary discharge).
    later = await walk.run("!plan discharge 2026-12-09")
    assert later["homeward.completed"] == []


async def test_an_update_is_planned_at_start_up_for_a_case_from_before(walk: Walk):
    from homeward.work.updates import plan_missing_updates

    w = walk
    async with w.store.transaction() as db:
        await db.execute("DELETE FROM family_updates")
    assert await plan_missing_updates(w.store, w.services) == 1
    assert len(await planned(w)) == 1
    assert await plan_missing_updates(w.store, w.services) == 0
