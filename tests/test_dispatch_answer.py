"""Where a command's answer goes in the outbox, and what a command that writes nothing skips.

The person who typed the command waits for its answer, so it goes out before the edits the
command makes (an edit's place in the timeline does not matter), but still after anything
else the command queued (a notice, a new room), which the answer may speak of.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

import homeward.commands.handlers  # noqa: F401  (registers every command)
from homeward.commands import dispatch
from homeward.commands.context import IncomingCommand
from homeward.commands.dispatch import handle_command, handle_reaction
from homeward.commands.registry import registry
from homeward.matrix.content import EVENT_CONTENT_MAX_BYTES, content_size, notice_content
from homeward.store import cases, outbox
from homeward.store.db import Store
from homeward.work.care_room import CareRoom
from homeward.work.services import Services
from tests.clock import FakeClock
from tests.stores import open_store, seed_case
from tests.unit import unit_services

CASE_ROOM, DIRECT_ROOM, COORDINATOR = "!case:order", "!dm:order", "@coord:order"
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _services(woken: list[str]) -> Services:
    return unit_services(
        FakeClock(START),
        wake_reminders=lambda: woken.append("reminders"),
        user_id="@bot:order",
        language="en",
        case_openers=["*"],
    )


async def _store_with_a_case(path: Path) -> Store:
    """A care room with its checklist posted and one coordinator; a direct room."""
    store = await open_store(path)
    async with store.transaction() as db:
        case_id = await seed_case(
            db,
            case_room=CASE_ROOM,
            direct_room=DIRECT_ROOM,
            coordinator=COORDINATOR,
            label="Order",
            language="en",
            now=START,
        )
        checklist = await outbox.enqueue(db, CASE_ROOM, "m.room.message", notice_content("checklist"), START)
        await cases.put_checklist(db, case_id, "planlegge-utskrivning", checklist)
        for row in await outbox.pending(db):
            await outbox.mark_sent(db, row.id, f"$sent-{row.id}", START)
    return store


async def _command(store: Store, services: Services, room: str, body: str, n: int) -> list[outbox.OutboxRow]:
    """Run one command; the rows it queued, in the order they will be sent."""
    async with store.read() as db:
        before = {row.id for row in await outbox.pending(db)}
    await handle_command(
        IncomingCommand(
            room_id=room,
            event_id=f"$cmd-{n}",
            sender=COORDINATOR,
            body=body,
            timestamp_ms=0,
            encrypted=True,
            room_encrypted=True,
        ),
        store,
        services,
    )
    async with store.read() as db:
        return [row for row in await outbox.pending(db) if row.id not in before]


async def test_the_answer_to_ack_goes_out_before_the_checklist_edit(tmp_path: Path) -> None:
    store = await _store_with_a_case(tmp_path / "homeward.sqlite3")
    try:
        rows = await _command(store, _services([]), CASE_ROOM, "!ack behandlingsteam", 1)
    finally:
        await store.close()
    assert [row.content.get("homeward.command") or row.content["m.relates_to"].get("rel_type") for row in rows] == [
        "ack",
        "m.replace",
    ]
    assert rows[0].content["homeward.status"] == "ok"


async def test_an_answer_that_names_what_the_command_queued_goes_out_after_it(tmp_path: Path) -> None:
    store = await _store_with_a_case(tmp_path / "homeward.sqlite3")
    try:
        rows = await _command(store, _services([]), DIRECT_ROOM, "!case new sthf Second", 1)
    finally:
        await store.close()
    assert rows[0].kind == outbox.CREATE_ROOM
    assert rows[-1].content["homeward.command"] == "case new"
    assert rows[-1].content["homeward.room_id"] == outbox.ref(rows[0].id)


async def test_a_command_that_writes_nothing_does_not_replan_reminders_but_a_change_does(tmp_path: Path) -> None:
    woken: list[str] = []
    store = await _store_with_a_case(tmp_path / "homeward.sqlite3")
    try:
        services = _services(woken)
        pong = await _command(store, services, CASE_ROOM, "!ping", 1)
        assert woken == []
        await _command(store, services, CASE_ROOM, "!ack behandlingsteam", 2)
        assert woken == ["reminders"]
    finally:
        await store.close()
    assert [row.content["homeward.command"] for row in pong] == ["ping"]


async def test_a_command_that_only_reads_and_audits_settles_nothing_and_one_that_changes_the_case_does(
    tmp_path: Path, monkeypatch
) -> None:
    """`!status` writes an audit row (reading is audited) and changes nothing: no re-planning; `!plan` changes it."""
    woken: list[str] = []
    settled: list[int] = []
    settle = CareRoom.settle

    async def counted(room: CareRoom) -> None:
        settled.append(room.case.id)
        await settle(room)

    monkeypatch.setattr(CareRoom, "settle", counted)
    store = await _store_with_a_case(tmp_path / "homeward.sqlite3")
    try:
        services = _services(woken)
        status = await _command(store, services, CASE_ROOM, "!status", 1)
        async with store.read() as db:
            audited = [row.action for row in await cases.audit_rows(db, 1)]
        assert "status.read" in audited  # it wrote, but only bookkeeping
        assert (settled, woken) == ([], [])
        await _command(store, services, CASE_ROOM, "!plan discharge 2026-12-20", 2)
        assert (settled, woken) == ([1], ["reminders"])
    finally:
        await store.close()
    assert status[0].content["homeward.status"] == "ok"


async def test_status_of_a_case_too_big_for_one_message_is_answered_shortened_not_lost(tmp_path: Path) -> None:
    store = await _store_with_a_case(tmp_path / "homeward.sqlite3")
    try:
        async with store.transaction() as db:
            for n in range(400):
                await cases.add_extra_task(
                    db,
                    1,
                    f"action-{n}",
                    "planlegge-utskrivning",
                    "kommunen",
                    f"Åtgärd {n} från mötet om hemgång, utrustning och opplæring",
                    None,
                    "minutes",
                    START,
                )
        rows = await _command(store, _services([]), CASE_ROOM, "!status", 1)
    finally:
        await store.close()
    answer = rows[0].content
    assert answer["homeward.status"] == "ok" and answer["homeward.command"] == "status"
    assert content_size(answer) <= EVENT_CONTENT_MAX_BYTES
    assert answer["body"].endswith("`!export case md` has all of it."), answer["body"][-300:]


async def test_status_lists_the_tasks_the_team_added_with_the_pathways_own(tmp_path: Path) -> None:
    store = await _store_with_a_case(tmp_path / "homeward.sqlite3")
    try:
        async with store.transaction() as db:
            await cases.add_extra_task(
                db, 1, "action-1", "planlegge-utskrivning", "kommunen", "Bestille seng", None, "minutes", START
            )
        rows = await _command(store, _services([]), CASE_ROOM, "!status", 1)
    finally:
        await store.close()
    assert "`action-1` Bestille seng" in rows[0].content["body"]
    assert "`behandlingsteam`" in rows[0].content["body"]


def test_an_invocation_is_the_registry_s_command_with_its_declared_arguments() -> None:
    ack = registry.invocation("ack", {"item-id": "plo"})
    assert ack.command is registry.find("ack") and ack.args == {"item-id": "plo", "note": None}
    yes = registry.invocation("consent yes", {"consent-id": "sip"})
    assert yes.command.typed_name == "consent yes" and yes.args == {"consent-id": "sip"}
    with pytest.raises(ValueError):
        registry.invocation("ack", {"item": "plo"})  # no such argument, and item-id missing
    with pytest.raises(KeyError):
        registry.invocation("consent maybe", {"consent-id": "sip"})


async def test_a_reaction_runs_ack_as_an_invocation_and_no_text_is_parsed(tmp_path: Path, monkeypatch) -> None:
    store = await _store_with_a_case(tmp_path / "homeward.sqlite3")

    def no_parsing(*_: object, **__: object) -> None:
        raise AssertionError("a reaction is no text to parse")

    monkeypatch.setattr(dispatch, "parse", no_parsing)
    try:
        async with store.transaction() as db:
            notice = await outbox.enqueue(db, CASE_ROOM, "m.room.message", notice_content("Innkalling"), START)
            await outbox.mark_sent(db, notice, "$notice", START)
            await db.execute(
                "INSERT INTO items (case_id, item_id, sent_at, sent_by, sent_outbox)"
                " VALUES (1, 'innkalling-mote-1', ?, ?, ?)",
                (START.isoformat(), COORDINATOR, notice),
            )
        assert await handle_reaction(CASE_ROOM, "$react", COORDINATOR, "$notice", store, _services([]))
        async with store.read() as db:
            answers = [row.content for row in await outbox.pending(db) if "homeward.command" in row.content]
    finally:
        await store.close()
    assert [(a["homeward.command"], a["homeward.status"], a.get("homeward.lane")) for a in answers] == [
        ("ack", "ok", "sykehus")
    ]
    assert answers[0]["m.relates_to"] == {"m.in_reply_to": {"event_id": "$notice"}}
