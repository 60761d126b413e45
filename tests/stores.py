"""A store with a care room in it, for unit tests that run commands without a homeserver."""

from __future__ import annotations

from datetime import datetime

from homeward.store import cases
from homeward.store.sql import Connection
from homeward.store.state import remember_room


async def seed_case(
    db: Connection,
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
