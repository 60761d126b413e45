"""Stores for unit tests that run commands without a homeserver: a new store, quickly, and a care room in it."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

import aiosqlite

from homeward.store import cases
from homeward.store.db import Store
from homeward.store.state import remember_room

_template: Path | None = None


async def open_store(path: Path) -> Store:
    """`Store.open(path)`, but a new store is a copy of one migrated once per test run.

    Migrating a new database takes about 0.1 s (every migration, each committed on its own); a copy
    of the migrated empty database takes a few milliseconds and holds exactly the same. `Store.open`
    still opens it (and sets its permissions). An existing `path` is opened as it is. Tests of the
    migrations, the permissions or the files themselves call `Store.open` directly.
    """
    global _template
    if _template is None:
        folder = Path(tempfile.mkdtemp(prefix="homeward-test-store-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        await (await Store.open(folder / "empty.sqlite3")).close()
        _template = folder / "empty.sqlite3"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        shutil.copyfile(_template, path)
    return await Store.open(path)


async def seed_case(
    db: aiosqlite.Connection,
    *,
    case_room: str,
    direct_room: str,
    coordinator: str,
    label: str,
    language: str,
    now: datetime,
) -> int:
    """A direct chat and a Telemark (sthf) care room whose coordinator is in the `sykehus` lane; the case id."""
    await remember_room(db, direct_room, "direct", "en", now)
    await remember_room(db, case_room, "case", language, now)
    case_id = await cases.open_case(
        db,
        pathway_id="sthf",
        label=label,
        phase_id="planlegge-utskrivning",
        opened_by=coordinator,
        opened_in=direct_room,
        create_outbox=0,
        now=now,
    )
    await cases.bind_room(db, 0, case_room)
    await cases.put_member(db, case_id, coordinator, "sykehus", True, coordinator, now)
    return case_id
