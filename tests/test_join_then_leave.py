"""Someone who joins and leaves before what was posted for them went out leaves the room its checklist.

At a join the bot posts the checklist again, held until the newcomer's client can read it
(bot/sender.py JOIN_SETTLE_S), with their greeting and consent requests. When they leave first
(a kick within seconds, or a join and a leave seen in one sync after the bot was away), their
greeting and consent requests are theirs alone and are given up; the new checklist, its pin and the old
one's pointer are the room's: given up, the room's checklist would be a message never sent,
and every later update of it with it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import homeward.commands.handlers  # noqa: F401  (registers every command)
from homeward.store import cases, outbox
from homeward.store.db import Store
from homeward.store.state import remember_room
from homeward.work.care_room import CareRoom
from homeward.work.consents import ask_person
from homeward.work.departures import member_left
from homeward.work.joins import member_joined
from homeward.work.services import Services
from tests.clock import FakeClock
from tests.stores import open_store
from tests.unit import unit_services

ROOM, CORA, MOR = "!r:x", "@cora:x", "@mor:x"


async def _case(tmp_path: Path) -> tuple[Store, Services, FakeClock, int]:
    """A store with an Örebro case in ROOM, coordinated by Cora."""
    clock = FakeClock(datetime(2026, 11, 30, 10, tzinfo=ZoneInfo("Europe/Stockholm")))
    store = await open_store(tmp_path / "homeward.sqlite3")
    services = unit_services(clock, user_id="@b:x")
    async with store.transaction() as db:
        await remember_room(db, ROOM, "case", "sv", clock.now())
        case_id = await cases.open_case(
            db,
            pathway_id="orebro",
            label="Masen",
            phase_id="planering",
            opened_by=CORA,
            opened_in="!d:x",
            create_outbox=1,
            now=clock.now(),
        )
        await cases.bind_room(db, case_id, ROOM)
        await cases.put_member(db, case_id, CORA, None, True, CORA, clock.now())
    return store, services, clock, case_id


async def test_a_guardian_leaving_before_their_checklist_went_out_loses_their_consent_requests_not_the_rooms_checklist(
    tmp_path: Path,
) -> None:
    store, services, clock, case_id = await _case(tmp_path)
    try:
        async with store.transaction() as db:
            room = await CareRoom.of_case(db, services, case_id, actor=CORA, event_id=None, now=clock.now())
            first_checklist = await room.post_checklist()
        async with store.transaction() as db:  # the room's first checklist (and all before) went out
            for row in await outbox.pending(db):
                await outbox.mark_sent(db, row.id, f"$sent{row.id}", clock.now())
            await cases.put_member(db, case_id, MOR, "vardnadshavare", False, CORA, clock.now())  # !invite
            room = await CareRoom.of_case(db, services, case_id, actor=CORA, event_id=None, now=clock.now())
            assert await ask_person(room, MOR)  # held until she joins

        assert await member_joined(ROOM, "$join", MOR, store, services)
        async with store.read() as db:
            held = {row.id: row.content for row in await outbox.pending(db) if "homeward.after_join" in row.content}
        assert await member_left(ROOM, "$leave", MOR, CORA, "leave", "join", store, services)  # kicked

        async with store.read() as db:
            pending = await outbox.pending(db)
            _, loaded = await cases.load_room(db, ROOM, services.pathways)
    finally:
        await store.close()
    by_id = {row.id: row.content for row in pending}
    assert {k for k, c in held.items() if "homeward.consent_request" in c}, "her consent requests wait for her join"
    assert not [c for c in by_id.values() if "homeward.consent_request" in c]  # hers alone: given up
    assert {k for k, c in held.items() if c.get("homeward.greeting") == MOR}, "her greeting waits for her join"
    assert not [c for c in by_id.values() if "homeward.greeting" in c]  # hers alone too: given up
    assert not [c for c in by_id.values() if "homeward.after_join" in c]  # what is left waits for nobody
    assert loaded is not None and loaded.checklist is not None and loaded.checklist != first_checklist
    assert "homeward.checklist" in by_id[loaded.checklist]  # the room's checklist goes out
    assert [
        c for c in by_id.values() if c.get("content") == {"pinned": [outbox.ref(loaded.checklist)]}
    ]  # and is pinned
    pointers = [
        c
        for c in by_id.values()
        if c.get("m.relates_to") == {"rel_type": "m.replace", "event_id": outbox.ref(first_checklist)}
    ]
    assert pointers  # the old one still points to it


async def test_a_guardian_who_leaves_before_joining_has_their_consent_requests_given_up(tmp_path: Path) -> None:
    store, services, clock, case_id = await _case(tmp_path)
    try:
        async with store.transaction() as db:
            await cases.put_member(db, case_id, MOR, "vardnadshavare", False, CORA, clock.now())
            room = await CareRoom.of_case(db, services, case_id, actor=CORA, event_id=None, now=clock.now())
            asked = await ask_person(room, MOR)
        assert await member_left(ROOM, "$decline", MOR, MOR, "leave", "invite", store, services)  # declined the invite

        async with store.read() as db:
            pending = await outbox.pending(db)
    finally:
        await store.close()
    assert asked and not [row for row in pending if "homeward.consent_request" in row.content]
