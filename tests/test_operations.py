"""`homeward migrate-store` (store/copy.py) and `homeward status` (store/health.py), as an operator runs them."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import pytest

from homeward.care.consent import Answer
from homeward.cli import main
from homeward.store import chain, outbox
from homeward.store.cases import audit, open_case
from homeward.store.consents import add_answer, answers
from homeward.store.db import PostgresStore, Store
from homeward.store.state import get_value, set_value
from tests.stores import seed_case

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def _sqlite_data_dir(data: Path) -> int:
    """A data_dir whose store has a case with a team, consent answers, audit rows, a message sent and one waiting."""
    store = await Store.open(data / "homeward.sqlite3")
    try:
        async with store.transaction() as db:
            case_id = await seed_case(
                db, case_room="!c:x", direct_room="!d:x", coordinator="@k:x", label="Flytt", language="nb", now=T0
            )
            await audit(db, room_id="!c:x", actor="@k:x", action="case.opened", now=T0, case_id=case_id)
            choices: list[Literal["no", "yes"]] = ["no", "yes"]
            for n, answer in enumerate(choices):
                at = T0 + timedelta(minutes=n + 1)
                await add_answer(db, case_id, Answer("individuell-plan", "@mor:x", answer, at), f"$a{n}")
                await audit(db, room_id="!c:x", actor="@mor:x", action="consent.answered", now=at, case_id=case_id)
            sent = await outbox.enqueue(db, "!c:x", "m.room.message", {"body": "sendt"}, T0)
            await outbox.mark_sent(db, sent, "$sent", T0)
            await outbox.enqueue(db, "!c:x", "m.room.message", {"body": "venter"}, T0)
            await set_value(db, "sync_token", "s42_1")
    finally:
        await store.close()
    return case_id


def _config(tmp_path: Path, data: Path, database: str = "sqlite") -> Path:
    path = tmp_path / "homeward.toml"
    path.write_text(
        f'homeserver = "http://127.0.0.1:1"\nuser_id = "@bot:x"\npassword = "x"\ndata_dir = "{data}"\n'
        f'database = "{database}"\n'
    )
    return path


async def test_migrate_store_moves_cases_consents_and_the_audit_into_postgresql_and_the_chain_verifies(
    tmp_path: Path, postgres, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    case_id = await _sqlite_data_dir(data)
    url = postgres.fresh_url(migrated=True)

    code = await asyncio.to_thread(main, ["migrate-store", "--from", str(data), "--to", url])

    out = capsys.readouterr().out
    assert code == 0, out
    assert "the audit trail and the consent answers verify" in out
    store = await PostgresStore.open_url(url)
    try:
        assert await store.take_lease("tests", ttl_s=60)
        async with store.read() as db:
            assert chain.first_breaks(await chain.verify(db)) == []
            assert [a.answer for a in await answers(db, case_id)] == ["no", "yes"]
            assert [r.content for r in await outbox.pending(db)] == [{"body": "venter"}]
            assert (await outbox.results(db, {1}))[1] == (True, "$sent")
            assert await get_value(db, "sync_token") == "s42_1"  # the bot goes on where it was
        async with store.transaction() as db:  # ids go on after the copied ones
            new_case = await open_case(
                db,
                pathway_id="sthf",
                label="Ny",
                phase_id="p",
                opened_by="@k:x",
                opened_in="!d:x",
                create_outbox=9,
                now=T0,
            )
            await audit(db, room_id="!c:x", actor="@k:x", action="case.opened", now=T0, case_id=case_id)
        assert new_case == case_id + 1
        async with store.read() as db:
            assert chain.first_breaks(await chain.verify(db)) == []  # the chain goes on from the copied head
    finally:
        await store.close()


async def test_migrate_store_refuses_a_postgresql_store_that_is_not_empty(
    tmp_path: Path, postgres, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    await _sqlite_data_dir(data)
    url = postgres.fresh_url(migrated=True)
    assert await asyncio.to_thread(main, ["migrate-store", "--from", str(data), "--to", url]) == 0
    capsys.readouterr()

    assert await asyncio.to_thread(main, ["migrate-store", "--from", str(data), "--to", url]) == 1
    assert "not empty" in capsys.readouterr().err


async def test_status_of_a_sqlite_store_says_its_backlog_and_is_healthy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    await _sqlite_data_dir(data)

    code = await asyncio.to_thread(main, ["status", "--config", str(_config(tmp_path, data)), "--json"])

    report = json.loads(capsys.readouterr().out)
    assert report["engine"] == "sqlite" and report["outbox_waiting"] == 1
    # queued on 2026-12-01, long before now: a message that waits that long is a problem
    assert code == 1 and report["problems"][0].startswith("a message has waited")


async def test_status_says_which_process_acts_and_fails_when_none_does(
    tmp_path: Path, postgres, capsys: pytest.CaptureFixture[str]
) -> None:
    url = postgres.fresh_url(migrated=True)
    store = await PostgresStore.open_url(url)
    config = _config(tmp_path, tmp_path / "data", url)
    try:
        assert await asyncio.to_thread(main, ["status", "--config", str(config)]) == 1
        assert "no process acts" in capsys.readouterr().out

        assert await store.take_lease("host:4242:DEVICE", ttl_s=60)
        code = await asyncio.to_thread(main, ["status", "--config", str(config), "--json"])
        report = json.loads(capsys.readouterr().out)
        assert code == 0 and report["healthy"]
        assert report["acting"]["holder"] == "host:4242:DEVICE" and report["acting"]["reason"] == "first"
        assert report["outbox_waiting"] == 0 and report["next_due"] is None
    finally:
        await store.close()
