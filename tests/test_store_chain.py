"""Specification of the audit trail's and the consent answers' hash chains (store/chain.py), their check at
start-up (work/integrity.py) and `homeward verify-audit` (homeward/cli.py).

The attack is the issue's: someone with the database file drops the trigger, rewrites a
guardian's "no" as "yes", and puts the trigger back.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import homeward.commands.handlers  # noqa: F401  (registers every command)
from homeward.care.consent import Answer
from homeward.cli import main
from homeward.store import chain, outbox
from homeward.store.cases import audit
from homeward.store.consents import add_answer
from homeward.store.db import Store
from homeward.store.migrations import MIGRATIONS
from homeward.store.rows import one_row
from homeward.work.integrity import check_chains
from homeward.work.services import Services
from tests.clock import FakeClock
from tests.stores import seed_case
from tests.unit import unit_services

CASE_ROOM, DIRECT_ROOM, COORDINATOR, GUARDIAN = "!case:chain", "!dm:chain", "@coord:chain", "@mor:chain"
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _services() -> Services:
    return unit_services(FakeClock(T0 + timedelta(days=1)), user_id="@bot:chain", language="en")


async def _case_with_answers(path: Path) -> tuple[Store, int]:
    """A care room (sthf) where the guardian said no to the plan consent and yes to documentation."""
    store = await Store.open(path)
    async with store.transaction() as db:
        case_id = await seed_case(
            db,
            case_room=CASE_ROOM,
            direct_room=DIRECT_ROOM,
            coordinator=COORDINATOR,
            label="Kjede",
            language="nb",
            now=T0,
        )
        await audit(
            db, room_id=CASE_ROOM, actor=COORDINATOR, action="case.opened", now=T0, case_id=case_id, label="Kjede"
        )
        await add_answer(db, case_id, Answer("individuell-plan", GUARDIAN, "no", T0 + timedelta(minutes=1)), "$no")
        await audit(
            db,
            room_id=CASE_ROOM,
            actor=GUARDIAN,
            action="consent.answered",
            now=T0 + timedelta(minutes=1),
            case_id=case_id,
            consent="individuell-plan",
            answer="no",
        )
        await add_answer(db, case_id, Answer("dokumentasjon", GUARDIAN, "yes", T0 + timedelta(minutes=2)), "$yes")
        await audit(
            db, room_id=DIRECT_ROOM, actor=COORDINATOR, action="pathways.listed", now=T0
        )  # no case: a chain of its own
    return store, case_id


def _tamper(path: Path, sql: str, table: str = "consent_answers") -> None:
    """What someone with the file can do: drop the trigger, change the row, put the trigger back."""
    with sqlite3.connect(path) as raw:
        triggers = raw.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", (table,)
        ).fetchall()
        for name, _ in triggers:
            raw.execute(f"DROP TRIGGER {name}")
        raw.execute(sql)
        for _, create in triggers:
            raw.execute(create)


async def _breaks(store: Store) -> list[chain.Break]:
    async with store.read() as db:
        return chain.first_breaks(await chain.verify(db))


async def test_each_row_carries_the_hash_of_the_row_before_it_in_its_case(tmp_path: Path) -> None:
    store, case_id = await _case_with_answers(tmp_path / "homeward.sqlite3")
    try:
        async with store.read() as db:
            async with db.execute("SELECT * FROM audit WHERE case_id = ? ORDER BY id", (case_id,)) as cur:
                rows = [dict(r) for r in await cur.fetchall()]
            async with db.execute("SELECT * FROM audit WHERE case_id IS NULL") as cur:
                outside = [dict(r) for r in await cur.fetchall()]
        assert rows[0]["prev_hash"] == chain.GENESIS and rows[1]["prev_hash"] == rows[0]["hash"]
        assert rows[1]["hash"] == chain.row_hash("audit", rows[1], rows[0]["hash"])
        assert outside[0]["prev_hash"] == chain.GENESIS  # rows outside a case chain on their own
        assert await _breaks(store) == []
    finally:
        await store.close()


async def test_a_no_rewritten_as_yes_behind_the_triggers_is_found_naming_the_row(tmp_path: Path) -> None:
    path = tmp_path / "homeward.sqlite3"
    store, case_id = await _case_with_answers(path)
    await store.close()
    _tamper(path, "UPDATE consent_answers SET answer = 'yes' WHERE event_id = '$no'")
    store = await Store.open(path)
    try:
        breaks = await _breaks(store)
        async with store.read() as db, db.execute("SELECT id FROM consent_answers WHERE event_id = '$no'") as cur:
            (row_id,) = await one_row(cur)
        assert breaks == [chain.Break("consent_answers", row_id, case_id, "changed")]
        assert f"consent_answers row {row_id} (case {case_id})" in breaks[0].describe()
    finally:
        await store.close()


async def test_a_row_removed_or_rehashed_breaks_the_link_of_the_row_after_it(tmp_path: Path) -> None:
    path = tmp_path / "homeward.sqlite3"
    store, case_id = await _case_with_answers(path)
    await store.close()
    with sqlite3.connect(path) as raw:
        first, second = [r[0] for r in raw.execute("SELECT id FROM audit WHERE case_id = ? ORDER BY id", (case_id,))]
    _tamper(path, f"DELETE FROM audit WHERE id = {first}", table="audit")
    store = await Store.open(path)
    try:
        assert await _breaks(store) == [chain.Break("audit", second, case_id, "unlinked")]
    finally:
        await store.close()


async def test_the_start_up_check_tells_the_coordinators_once_and_records_it(tmp_path: Path) -> None:
    path = tmp_path / "homeward.sqlite3"
    store, _case_id = await _case_with_answers(path)
    await store.close()
    _tamper(path, "UPDATE consent_answers SET answer = 'yes' WHERE event_id = '$no'")
    services = _services()
    store = await Store.open(path)
    try:
        first = await check_chains(store, services)
        again = await check_chains(store, services)  # a restart: the same break, not told again
        async with store.read() as db:
            messages = [row.content for row in await outbox.pending(db) if row.room_id == CASE_ROOM]
            async with db.execute("SELECT details FROM audit WHERE action = 'audit.chain_broken'") as cur:
                recorded = [json.loads(r[0]) for r in await cur.fetchall()]
    finally:
        await store.close()
    assert first == again and len(first) == 1
    told = [m for m in messages if "homeward.chain_broken" in m]
    assert len(told) == 1
    assert told[0]["m.mentions"] == {"user_ids": [COORDINATOR]}
    assert COORDINATOR in told[0]["formatted_body"] and "Kjede" in told[0]["body"]
    assert f"rad {first[0].row_id} i samtykkesvarene" in told[0]["body"]  # the room speaks Norwegian
    assert recorded == [{"table": "consent_answers", "row": first[0].row_id, "reason": "changed"}]


def _config_file(tmp_path: Path, data_dir: Path) -> Path:
    path = tmp_path / "homeward.toml"
    path.write_text(
        f'homeserver = "http://127.0.0.1:1"\nuser_id = "@bot:chain"\npassword = "x"\ndata_dir = "{data_dir}"\n'
    )
    return path


def test_verify_audit_exits_0_when_intact_and_1_naming_the_first_broken_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    store, _case_id = asyncio.run(_case_with_answers(data / "homeward.sqlite3"))
    asyncio.run(store.close())
    config = _config_file(tmp_path, data)

    assert main(["verify-audit", "--config", str(config)]) == 0
    assert "intact (3 audit rows, 2 consent answers" in capsys.readouterr().out

    _tamper(data / "homeward.sqlite3", "UPDATE consent_answers SET answer = 'yes' WHERE event_id = '$no'")
    assert main(["verify-audit", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "consent_answers row 1 (case 1): its content does not match its hash" in out


def test_verify_audit_refuses_a_store_from_before_the_chain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    data.mkdir()
    with sqlite3.connect(data / "homeward.sqlite3") as raw:
        for script in MIGRATIONS[:6]:
            assert isinstance(script, str)
            raw.executescript(script)
        raw.execute("PRAGMA user_version = 6")
    assert main(["verify-audit", "--config", str(_config_file(tmp_path, data))]) == 2
    assert "start this Homeward once to migrate it" in capsys.readouterr().err


async def test_the_migration_chains_the_rows_written_before_and_keeps_the_triggers(tmp_path: Path) -> None:
    path = tmp_path / "homeward.sqlite3"
    with sqlite3.connect(path) as raw:  # a store of Homeward before the chain, with history in it
        for script in MIGRATIONS[:6]:
            assert isinstance(script, str)
            raw.executescript(script)
        raw.execute("PRAGMA user_version = 6")
        raw.execute(
            "INSERT INTO cases (pathway_id, label, phase_id, opened_by, opened_at, opened_in, create_outbox, room_id)"
            " VALUES ('sthf', 'Gammel', 'p', 'c', 't', 'd', 0, '!old:x')"
        )
        for n in range(3):
            raw.execute(
                "INSERT INTO audit (case_id, room_id, at, actor, action, details)"
                " VALUES (1, '!old:x', ?, '@a:x', 'x', '{}')",
                (f"t{n}",),
            )
        raw.execute(
            "INSERT INTO consent_answers (case_id, consent_id, user_id, answer, at, event_id)"
            " VALUES (1, 'c', '@m:x', 'no', 't', '$e')"
        )
    store = await Store.open(path)
    try:
        assert await _breaks(store) == []
        async with store.read() as db:
            states = await chain.verify_case(db, 1)
        assert states["audit"].rows == 3 and states["consent_answers"].rows == 1
        with pytest.raises(sqlite3.IntegrityError, match="never changed"):
            async with store.transaction() as db:
                await db.execute("UPDATE consent_answers SET answer = 'yes'")
    finally:
        await store.close()
