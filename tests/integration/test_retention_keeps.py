"""Retention removes what the README's table says it removes, and keeps exactly what it says it keeps.

A case walked through every command that takes typed text — each text a unique marker — then closed
and removed by its retention run. Afterwards every marker still anywhere in the database must be in
an audit row's details under a key `care.retention.KEPT_TYPED_TEXT` names for that action, and the
README's table must name each of those kinds; every other marker must be gone.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from homeward.care.retention import KEPT_TYPED_TEXT
from homeward.clock import ShiftedClock
from tests.integration.care import bring_in, ok, open_case_in
from tests.integration.conftest import direct_room

OSLO = ZoneInfo("Europe/Oslo")
README = Path(__file__).resolve().parents[2] / "README.md"


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=OSLO)


def where_found(database: Path, marker: str) -> list[tuple[str, str, dict]]:
    """Every (table, column, row) holding `marker` in a text column."""
    found = []
    with sqlite3.connect(database) as raw:
        raw.row_factory = sqlite3.Row
        tables = [r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for row in raw.execute(f"SELECT * FROM {table}"):
                for column in row.keys():  # noqa: SIM118 (a sqlite3.Row iterates over its values)
                    value = row[column]
                    if isinstance(value, str) and marker in value:
                        found.append((table, column, dict(row)))
    return found


async def test_a_retention_run_keeps_exactly_the_typed_text_the_readme_lists(make_bot, make_member):
    clock = ShiftedClock.starting_at(at(2026, 12, 1, 9, 0))
    bot = await make_bot(clock=clock, retention_days=30)
    anna, karin = await make_member("anna"), await make_member("karin")
    dm = await direct_room(anna, bot)
    room, _ = await open_case_in(anna, dm, "orebro", "Oter")
    ok(await anna.command(room, f"!role {anna.user_id} slutenvard coordinator"))
    await bring_in(anna, room, karin, "kommun")
    markers = {
        "ack": "MarkAckNote",
        "force": "MarkForceReason",
        "minutes": "MarkMinutesNote",
        "handover": "MarkHandoverNote",
        "close": "MarkCloseReason",
        "reopen": "MarkReopenReason",
    }
    ok(await anna.command(room, f"!ack konsultation {markers['ack']}"))
    ok(await anna.command(room, "!meeting new extra 2026-12-03 10:00"))
    ok(await anna.command(room, f"!minutes extra-1 note {markers['minutes']}"))
    ok(await anna.command(room, f"!phase next force {markers['force']}"))
    ok(await anna.command(room, f"!handover {karin.user_id} {markers['handover']}"))
    ok(await karin.command(room, f"!case close force {markers['close']}"))
    ok(await karin.command(room, f"!case reopen {markers['reopen']}"))
    ok(await karin.command(room, "!case close force again"))

    clock.jump_to(at(2027, 1, 5, 11, 0))  # past 30 days after the last closing; a Swedish working day, 11:00
    bot.running.clock_jumped()
    await anna.wait_for_membership(room, bot.user_id, "leave")
    await bot.stop()

    readme = " ".join(README.read_text(encoding="utf-8").split())
    for action, (_keys, words) in KEPT_TYPED_TEXT.items():
        assert words in readme, f"the README's retention table does not name {words!r} ({action})"
    kept: dict[str, set[str]] = {}
    for name, marker in markers.items():
        for table, column, row in where_found(bot.config.store_path, marker):
            assert table == "audit" and column == "details", (name, table, column)
            details = json.loads(row["details"])
            keys, _ = KEPT_TYPED_TEXT.get(row["action"], ((), ""))
            holding = [key for key, value in details.items() if isinstance(value, str) and marker in value]
            assert holding and set(holding) <= set(keys), (name, row["action"], holding)
            kept.setdefault(name, set()).add(row["action"])
    assert "minutes" not in kept  # the minutes went with the rest of the personal content
    assert kept["handover"] == {"case.handed_over"} and kept["reopen"] == {"case.reopened"}
