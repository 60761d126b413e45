"""Specification of the store (store/db.py), its bookkeeping (store/state.py) and the outbox."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import stat
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from homeward.store import outbox
from homeward.store.db import NotActing, PostgresStore, Store, StoreError
from homeward.store.migrations import MIGRATIONS
from homeward.store.rows import one_row
from homeward.store.state import get_value, mark_handled, set_value, was_handled
from tests.conftest import OpenStore

NOW = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
ROOM = "!case:example.org"


@pytest.fixture
async def store(open_store: OpenStore, tmp_path: Path) -> AsyncIterator[Store]:
    """A store on each engine (tests/conftest.py): every test that takes it runs on SQLite and on PostgreSQL."""
    opened = await open_store(tmp_path / "data" / "homeward.sqlite3")
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Store]:
    """A SQLite store, for what only SQLite has (a file, its WAL, its PRAGMAs)."""
    opened = await Store.open(tmp_path / "data" / "homeward.sqlite3")
    try:
        yield opened
    finally:
        await opened.close()


async def scalar(store: Store, sql: str) -> object:
    async with store.read() as db, db.execute(sql) as cur:
        row = await cur.fetchone()
    assert row is not None
    return row[0]


# --- opening and migrating ------------------------------------------------------------


async def test_a_new_store_file_is_readable_by_the_owner_only(sqlite_store: Store) -> None:
    assert sqlite_store.path is not None
    assert stat.S_IMODE(sqlite_store.path.stat().st_mode) == 0o600


async def test_the_wal_and_shm_files_are_readable_by_the_owner_only(sqlite_store: Store) -> None:
    async with sqlite_store.transaction() as db:
        await set_value(db, "k", "v")
    path = sqlite_store.path
    assert path is not None
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        assert stat.S_IMODE(side.stat().st_mode) == 0o600, side


async def test_an_existing_store_file_is_tightened_to_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "homeward.sqlite3"
    path.touch(mode=0o644)
    path.chmod(0o644)
    opened = await Store.open(path)
    await opened.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_the_clock_reminder_migration_keeps_every_reminder_and_its_id(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as raw:  # a store of the schema before clocks (six migrations)
        for script in MIGRATIONS[:6]:
            assert isinstance(script, str)  # the first migrations are all SQL
            raw.executescript(script)
        raw.execute("PRAGMA user_version = 6")
        raw.execute(
            "INSERT INTO cases (id, pathway_id, label, phase_id, opened_by, opened_at, opened_in, create_outbox)"
            " VALUES (1, 'orebro', 'X', 'planering', '@a:x', '2026-11-30T09:00:00+00:00', '!d:x', 1)"
        )
        raw.execute(
            "INSERT INTO reminders (id, case_id, item_id, kind, sequence, due, planned_at, fire_at, status)"
            " VALUES (41, 1, 'kallelse-sip', 'overdue', 2, 'd', 'p', 'f', 'sent')"
        )
    migrated = await Store.open(path)
    try:
        async with migrated.transaction() as db:
            await db.execute(
                "INSERT INTO reminders (case_id, item_id, kind, sequence, due, planned_at, fire_at)"
                " VALUES (1, 'betalningsansvar', 'clock', 0, 'd', 'p', 'f')"
            )
        async with (
            migrated.read() as db,
            db.execute("SELECT id, item_id, kind, status FROM reminders ORDER BY id") as cur,
        ):
            found = [tuple(r) for r in await cur.fetchall()]
    finally:
        await migrated.close()
    assert found == [(41, "kallelse-sip", "overdue", "sent"), (42, "betalningsansvar", "clock", "planned")]


async def test_a_new_store_uses_the_wal_journal(sqlite_store: Store) -> None:
    assert await scalar(sqlite_store, "PRAGMA journal_mode") == "wal"


async def test_migrations_set_user_version_to_their_count(sqlite_store: Store) -> None:
    assert await scalar(sqlite_store, "PRAGMA user_version") == len(MIGRATIONS)


async def test_reopening_a_migrated_store_keeps_its_data(open_store: OpenStore) -> None:
    first = await open_store()
    async with first.transaction() as db:
        await set_value(db, "since", "s123")
    await first.close()
    second = await open_store()
    try:
        async with second.read() as db:
            assert await get_value(db, "since") == "s123"
        assert await second.schema_version() == len(MIGRATIONS)
    finally:
        await second.close()


async def test_a_postgresql_store_keeps_its_schema_version_in_a_table(postgres) -> None:
    store = await PostgresStore.open_url(postgres.fresh_url())
    try:
        assert await scalar(store, "SELECT version FROM homeward_schema") == len(MIGRATIONS)
    finally:
        await store.close()


async def test_a_postgresql_database_from_a_newer_homeward_is_refused_untouched(postgres) -> None:
    url = postgres.fresh_url()
    newer = len(MIGRATIONS) + 3
    with psycopg.connect(url, autocommit=True) as raw:
        raw.execute("CREATE TABLE homeward_schema (version BIGINT NOT NULL)")
        raw.execute("INSERT INTO homeward_schema VALUES (%s)", (newer,))
    with pytest.raises(StoreError) as caught:
        await PostgresStore.open_url(url)
    assert f"version {newer}" in str(caught.value) and f"up to {len(MIGRATIONS)}" in str(caught.value)
    with psycopg.connect(url, autocommit=True) as raw:
        assert raw.execute("SELECT version FROM homeward_schema").fetchone() == (newer,)
        assert raw.execute("SELECT to_regclass('kv')").fetchone() == (None,)


async def test_two_processes_opening_a_new_postgresql_store_at_once_migrate_it_once(postgres) -> None:
    url = postgres.fresh_url()
    first, second = await asyncio.gather(PostgresStore.open_url(url), PostgresStore.open_url(url))
    try:
        assert await first.schema_version() == await second.schema_version() == len(MIGRATIONS)
    finally:
        await first.close()
        await second.close()


async def test_a_shared_store_refuses_writes_from_a_process_without_the_lease(postgres) -> None:
    url = postgres.fresh_url(migrated=True)
    acting, standing_by = await PostgresStore.open_url(url), await PostgresStore.open_url(url)
    try:
        assert await acting.take_lease("acting", ttl_s=60)
        assert not await standing_by.take_lease("standby", ttl_s=60)  # held: not taken
        with pytest.raises(NotActing):
            async with standing_by.transaction() as db:
                await set_value(db, "a", "standby")
        async with standing_by.transaction(fenced=False) as db:  # a row of its own (its device's sync position)
            await set_value(db, "sync_token/STANDBY", "s1")
        async with acting.transaction() as db:
            await set_value(db, "a", "acting")
        async with standing_by.read() as db:
            assert await get_value(db, "a") == "acting"
    finally:
        await acting.close()
        await standing_by.close()


async def test_a_database_from_a_newer_homeward_is_refused_naming_both_versions(tmp_path: Path) -> None:
    path = tmp_path / "homeward.sqlite3"
    newer = len(MIGRATIONS) + 7
    with sqlite3.connect(path) as raw:
        raw.execute(f"PRAGMA user_version = {newer}")
    with pytest.raises(StoreError) as caught:
        await Store.open(path)
    message = str(caught.value)
    assert f"version {newer}" in message
    assert f"up to {len(MIGRATIONS)}" in message
    assert str(path) in message


async def test_a_refused_database_is_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "homeward.sqlite3"
    newer = len(MIGRATIONS) + 1
    with sqlite3.connect(path) as raw:
        raw.execute(f"PRAGMA user_version = {newer}")
    with pytest.raises(StoreError):
        await Store.open(path)
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == newer
        assert raw.execute("SELECT count(*) FROM sqlite_master WHERE name = 'kv'").fetchone()[0] == 0


# --- transactions ---------------------------------------------------------------------


async def test_a_transaction_commits_everything_on_success(store: Store) -> None:
    async with store.transaction() as db:
        await set_value(db, "a", "1")
        await outbox.enqueue(db, ROOM, "m.room.message", {"body": "x"}, NOW)
    async with store.read() as db:
        assert await get_value(db, "a") == "1"
        assert len(await outbox.pending(db)) == 1


async def test_a_transaction_rolls_back_everything_on_an_exception(store: Store) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        async with store.transaction() as db:
            await set_value(db, "a", "1")
            await mark_handled(db, "$event", ROOM, NOW)
            await outbox.enqueue(db, ROOM, "m.room.message", {"body": "x"}, NOW)
            raise RuntimeError("boom")
    async with store.read() as db:
        assert await get_value(db, "a") is None
        assert not await was_handled(db, "$event")
        assert await outbox.pending(db) == []


async def test_the_store_is_usable_after_a_rolled_back_transaction(store: Store) -> None:
    with pytest.raises(RuntimeError):
        async with store.transaction() as db:
            await set_value(db, "a", "1")
            raise RuntimeError
    async with store.transaction() as db:
        await set_value(db, "a", "2")
    async with store.read() as db:
        assert await get_value(db, "a") == "2"


# --- handled events -------------------------------------------------------------------


async def test_mark_handled_is_true_the_first_time_then_false(store: Store) -> None:
    async with store.transaction() as db:
        assert await mark_handled(db, "$event", ROOM, NOW) is True
    async with store.transaction() as db:
        assert await mark_handled(db, "$event", ROOM, NOW) is False
        assert await mark_handled(db, "$other", ROOM, NOW) is True


async def test_set_value_replaces_the_previous_value(store: Store) -> None:
    async with store.transaction() as db:
        await set_value(db, "since", "s1")
        await set_value(db, "since", "s2")
        assert await get_value(db, "since") == "s2"


# --- outbox ---------------------------------------------------------------------------


async def test_an_enqueued_event_is_pending_with_its_content(store: Store) -> None:
    content = {"msgtype": "m.notice", "body": "Hei, Tromsø ✓"}
    async with store.transaction() as db:
        row_id = await outbox.enqueue(db, ROOM, "m.room.message", content, NOW)
    async with store.read() as db:
        rows = await outbox.pending(db)
    assert [(r.id, r.room_id, r.event_type, r.content, r.attempts) for r in rows] == [
        (row_id, ROOM, "m.room.message", content, 0)
    ]


async def test_pending_lists_rows_in_the_order_they_were_queued(store: Store) -> None:
    async with store.transaction() as db:
        ids = [await outbox.enqueue(db, ROOM, "m.room.message", {"n": n}, NOW) for n in range(3)]
    async with store.read() as db:
        assert [r.id for r in await outbox.pending(db)] == ids


async def test_mark_sent_removes_the_row_from_pending_and_keeps_the_event_id(store: Store) -> None:
    async with store.transaction() as db:
        first = await outbox.enqueue(db, ROOM, "m.room.message", {"n": 1}, NOW)
        second = await outbox.enqueue(db, ROOM, "m.room.message", {"n": 2}, NOW)
    async with store.transaction() as db:
        await outbox.mark_sent(db, first, "$sent", NOW)
    async with store.read() as db:
        assert [r.id for r in await outbox.pending(db)] == [second]
        assert (await outbox.results(db, {first}))[first] == (True, "$sent")


async def test_txn_id_is_stable_and_derived_from_the_row_id(store: Store) -> None:
    async with store.transaction() as db:
        row_id = await outbox.enqueue(db, ROOM, "m.room.message", {}, NOW)
    async with store.read() as db:
        first_read = (await outbox.pending(db))[0]
    async with store.transaction() as db:
        await outbox.mark_failed(db, row_id, "timeout")
    async with store.read() as db:
        second_read = (await outbox.pending(db))[0]
    assert first_read.txn_id == second_read.txn_id == f"homeward-{row_id}"


async def test_mark_failed_keeps_the_row_pending_and_counts_the_attempt(store: Store) -> None:
    async with store.transaction() as db:
        row_id = await outbox.enqueue(db, ROOM, "m.room.message", {}, NOW)
        await outbox.mark_failed(db, row_id, "timeout")
        await outbox.mark_failed(db, row_id, "timeout")
    async with store.read() as db:
        assert [(r.id, r.attempts) for r in await outbox.pending(db)] == [(row_id, 2)]


async def test_mark_abandoned_removes_the_row_from_pending(store: Store) -> None:
    async with store.transaction() as db:
        row_id = await outbox.enqueue(db, ROOM, "m.room.message", {}, NOW)
    async with store.transaction() as db:
        await outbox.mark_abandoned(db, row_id, "M_FORBIDDEN: not in room", NOW)
    async with store.read() as db:
        assert await outbox.pending(db) == []
        assert (await outbox.results(db, {row_id}))[row_id][1] is None


# --- what a sent row keeps ----------------------------------------------------------------

SECRET = "Trenger sondemat og oksygen hjemme, Sjøstjerne"


async def test_a_sent_row_keeps_its_event_id_reply_and_size_but_not_its_content(store: Store) -> None:
    content = {"msgtype": "m.notice", "body": SECRET, "m.relates_to": {"m.in_reply_to": {"event_id": "$command"}}}
    async with store.transaction() as db:
        row_id = await outbox.enqueue(db, ROOM, "m.room.message", content, NOW)
        edit = await outbox.enqueue(db, ROOM, "m.room.message", {"m.relates_to": {"event_id": outbox.ref(row_id)}}, NOW)
    async with store.transaction() as db:
        await outbox.mark_sent(db, row_id, "$sent", NOW)
    async with store.read() as db, db.execute("SELECT * FROM outbox WHERE id = ?", (row_id,)) as cur:
        row = dict(await one_row(cur))
        refs = await outbox.results(db, {row_id})
        pending = await outbox.pending(db)
    assert row["content"] == "{}"
    assert (row["event_id"], row["reply_to"], row["event_type"], row["kind"]) == (
        "$sent",
        "$command",
        "m.room.message",
        "event",
    )
    assert row["content_size"] == len(json.dumps(content, ensure_ascii=False).encode())
    assert refs[row_id] == (True, "$sent")  # a later edit still finds the event it edits
    assert [r.id for r in pending] == [edit]


async def test_an_abandoned_row_forgets_its_content_and_keeps_the_reason(store: Store) -> None:
    async with store.transaction() as db:
        row_id = await outbox.enqueue(db, ROOM, "m.room.message", {"body": SECRET}, NOW)
    async with store.transaction() as db:
        await outbox.mark_abandoned(db, row_id, "M_FORBIDDEN: not in the room", NOW)
    async with store.read() as db, db.execute("SELECT content, last_error FROM outbox WHERE id = ?", (row_id,)) as cur:
        assert tuple(await one_row(cur)) == ("{}", "M_FORBIDDEN: not in the room")


async def test_a_row_given_up_because_its_reader_left_before_joining_forgets_its_content(store: Store) -> None:
    async with store.transaction() as db:
        row_id = await outbox.enqueue(
            db,
            ROOM,
            "m.room.message",
            {"body": SECRET, "homeward.after_join": "@mor:example.org", "homeward.consent_request": {"consent": "sip"}},
            NOW,
        )
        assert (
            await outbox.abandon_waiting_for(
                db,
                ROOM,
                "@mor:example.org",
                NOW,
                "@mor:example.org left before joining",
                carrying=("homeward.consent_request",),
            )
            == 1
        )
    async with (
        store.read() as db,
        db.execute("SELECT content, content_size, last_error FROM outbox WHERE id = ?", (row_id,)) as cur,
    ):
        row = tuple(await one_row(cur))
    assert row[0] == "{}" and row[1] > 2 and row[2] == "@mor:example.org left before joining"


async def test_a_sent_message_s_text_is_gone_from_the_database_files(tmp_path: Path) -> None:
    path = tmp_path / "homeward.sqlite3"
    store = await Store.open(path)
    try:
        async with store.transaction() as db:
            short = await outbox.enqueue(db, ROOM, "m.room.message", {"body": SECRET}, NOW)
            long = await outbox.enqueue(db, ROOM, "m.room.message", {"body": SECRET * 400}, NOW)  # overflow pages
        async with store.transaction() as db:
            await outbox.mark_sent(db, short, "$1", NOW)
            await outbox.mark_sent(db, long, "$2", NOW)
        await store.checkpoint()  # what the sender does a while after rows were sent
        files = [p for p in tmp_path.iterdir() if p.name.startswith("homeward.sqlite3")]
        needle = b"oksygen hjemme"
        assert [p.name for p in files if needle in p.read_bytes()] == []
    finally:
        await store.close()


async def test_the_migration_clears_the_rows_sent_before_it(tmp_path: Path) -> None:
    path = tmp_path / "homeward.sqlite3"
    with sqlite3.connect(path) as raw:  # a store of Homeward before this rule
        for script in MIGRATIONS[:6]:
            assert isinstance(script, str)
            raw.executescript(script)
        raw.execute("PRAGMA user_version = 6")
        answer = json.dumps({"body": SECRET, "m.relates_to": {"m.in_reply_to": {"event_id": "$cmd"}}})
        raw.execute(
            "INSERT INTO outbox (room_id, event_type, content, created_at, sent_at, event_id)"
            " VALUES (?, 'm.room.message', ?, 't', 't', '$a')",
            (ROOM, answer),
        )
        raw.execute(
            "INSERT INTO outbox (room_id, event_type, content, created_at) VALUES (?, 'm.room.message', ?, 't')",
            (ROOM, json.dumps({"body": "not sent yet"})),
        )
    store = await Store.open(path)
    try:
        async with (
            store.read() as db,
            db.execute("SELECT content, reply_to, content_size FROM outbox ORDER BY id") as cur,
        ):
            rows = [tuple(r) for r in await cur.fetchall()]
    finally:
        await store.close()
    assert rows == [("{}", "$cmd", len(answer)), (json.dumps({"body": "not sent yet"}), None, None)]
    assert b"oksygen" not in path.read_bytes()
