"""Specification of the audit trail in the store: append-only, read back in order and by period."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import psycopg
import pytest

from homeward.store.cases import audit, audit_rows
from homeward.store.db import Store
from tests.conftest import OpenStore

ROOM = "!case:example.org"
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


#: What refusing an UPDATE or DELETE of the audit trail raises: the trigger's error, on each engine.
REFUSED = (sqlite3.IntegrityError, psycopg.IntegrityError)


@pytest.fixture
async def store(open_store: OpenStore) -> AsyncIterator[Store]:
    opened = await open_store()
    try:
        async with opened.transaction() as db:
            await audit(db, room_id=ROOM, actor="@anna:x", action="case.opened", now=T0, case_id=1, label="Sjøstjerne")
            await audit(
                db,
                room_id=ROOM,
                actor="@anna:x",
                action="member.added",
                now=T0 + timedelta(days=1),
                case_id=1,
                user="@karin:x",
            )
            await audit(db, room_id=ROOM, actor="@other:x", action="case.opened", now=T0, case_id=2)
            await audit(
                db,
                room_id=ROOM,
                actor="@karin:x",
                action="item.acknowledged",
                now=T0 + timedelta(days=2),
                case_id=1,
                actor_lane="kommun",
            )
        yield opened
    finally:
        await opened.close()


async def test_an_audit_row_cannot_be_updated(store: Store) -> None:
    with pytest.raises(REFUSED, match="append-only"):
        async with store.transaction() as db:
            await db.execute("UPDATE audit SET actor = '@mallory:x' WHERE id = 1")
    async with store.read() as db:
        assert (await audit_rows(db, 1))[0].actor == "@anna:x"


async def test_an_audit_row_cannot_be_deleted(store: Store) -> None:
    with pytest.raises(REFUSED, match="append-only"):
        async with store.transaction() as db:
            await db.execute("DELETE FROM audit WHERE case_id = 1")
    async with store.read() as db:
        assert len(await audit_rows(db, 1)) == 3


async def test_audit_rows_are_the_case_s_rows_in_the_order_written(store: Store) -> None:
    async with store.read() as db:
        rows = await audit_rows(db, 1)
    assert [r.action for r in rows] == ["case.opened", "member.added", "item.acknowledged"]
    assert [r.id for r in rows] == sorted(r.id for r in rows)
    assert rows[0].at == T0 and rows[0].details == '{"label": "Sjøstjerne"}'
    assert rows[2].actor_lane == "kommun"


async def test_audit_rows_since_is_inclusive_and_until_exclusive(store: Store) -> None:
    async with store.read() as db:
        middle = await audit_rows(db, 1, T0 + timedelta(days=1), T0 + timedelta(days=2))
        later = await audit_rows(db, 1, since=T0 + timedelta(hours=1))
        # The same instant written with another offset.
        oslo = await audit_rows(db, 1, until=datetime(2026, 12, 1, 9, 0, 1, tzinfo=timezone(timedelta(hours=1))))
    assert [r.action for r in middle] == ["member.added"]
    assert [r.action for r in later] == ["member.added", "item.acknowledged"]
    assert [r.action for r in oslo] == ["case.opened"]
