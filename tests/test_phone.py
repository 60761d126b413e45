"""Short messages for the people they name: what a care room says, read as a parent's phone shows it.

Element shows a message that mentions you whole, red text on yellow: on a 390 px phone a
message of 1–1.5 screens is hard to read. So every message that names someone fits in about
five lines there — some 240 characters of plain text (`MENTION_MAX_CHARS`): who, what, by
when, the one command or word to answer — and the details go in a message that names nobody
(or in `!status`). Element shows each person named as a pill with their display name, so a
message is measured as its plain body with each user id read as a name of 16 characters
("Maria Lindqvist" and a space).

A whole case is walked in a store, without a homeserver: a team with two guardians joins, the
consent requests go out, notices are sent, reminders and a statutory clock fire, a meeting is
planned, the family gets its regular word, a guardian who answered moves lane, a stranger is removed,
the coordinator leaves. Every message queued that
names someone is measured, in each language.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import homeward.commands.handlers  # noqa: F401  (registers every command)
from homeward.care.pathway import Pathway, default_pathways_dir, load_pathway, load_pathways
from homeward.commands.context import IncomingCommand
from homeward.commands.dispatch import handle_command
from homeward.config import Config
from homeward.matrix.content import MENTION_MAX_CHARS
from homeward.messages.catalog import Catalog
from homeward.store import cases, outbox
from homeward.store import reminders as reminder_rows
from homeward.store import updates as update_rows
from homeward.store.db import Store
from homeward.store.state import remember_room
from homeward.work.departures import member_left
from homeward.work.joins import member_joined
from homeward.work.reminders import fire_reminder
from homeward.work.services import Services
from homeward.work.updates import fire_family_update
from tests.clock import FakeClock

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # a Monday
PATHWAYS = load_pathways(default_pathways_dir())
ROOM, DM = "!care:region-orebro.se", "!dm:region-orebro.se"
# Ids as long as a region's: the plain body names people by their ids.
ANNA = "@anna.koordinator:region-orebro.se"
SARA = "@sara.sjukskoterska:region-orebro.se"
KARIN = "@karin.kommun:orebro.se"
MARIA = "@maria.lindqvist:region-orebro.se"
JONAS = "@jonas.lindqvist:region-orebro.se"


class Walk:
    def __init__(self, store: Store, pathways: dict[str, Pathway]) -> None:
        self.store, self.clock, self.n = store, FakeClock(START), 0
        config = {
            "homeserver": "http://127.0.0.1:1",
            "user_id": "@homeward:region-orebro.se",
            "password": "x",
            "allowed_servers": ["region-orebro.se", "orebro.se"],
        }
        self.services = Services(
            config=Config.model_validate(config),
            catalog=Catalog(),
            clock=self.clock,
            pathways=pathways,
        )

    async def run(self, body: str, sender: str = ANNA) -> dict[str, Any]:
        answer = await self.run_refused(body, sender)
        assert answer["homeward.status"] == "ok", answer["body"]
        return answer

    async def run_refused(self, body: str, sender: str = ANNA) -> dict[str, Any]:
        """Run a command (end-to-end encrypted) and return its answer, whatever it says."""
        self.n += 1
        event_id = f"$e{self.n}"
        incoming = IncomingCommand(ROOM, event_id, sender, body, 0, encrypted=True, room_encrypted=True)
        await handle_command(incoming, self.store, self.services)
        return next(c for c in await self.queued() if _replies_to(c) == event_id)

    async def join(self, user_id: str) -> None:
        self.n += 1
        await member_joined(ROOM, f"$j{self.n}", user_id, self.store, self.services)

    async def fire_due(self, until: datetime) -> None:
        """Fire every reminder planned up to `until`, the clock moving with them."""
        while True:
            async with self.store.read() as db:
                due = await reminder_rows.due_rows(db, until)
                updates = await update_rows.due_updates(db, until)
            for update in updates:  # the family's regular word
                self.clock.set(max(self.clock.now(), update.fire_at))
                await fire_family_update(self.store, self.services, update.id)
            if not due:
                break
            for row in due:
                self.clock.set(max(self.clock.now(), row.fire_at))
                if not await fire_reminder(self.store, self.services, row.id):
                    async with self.store.transaction() as db:  # held (quiet hours, snoozed): past it
                        await db.execute("UPDATE reminders SET status = 'dropped' WHERE id = ?", (row.id,))
        self.clock.set(until)

    async def queued(self) -> list[dict[str, Any]]:
        async with self.store.read() as db, db.execute("SELECT content FROM outbox ORDER BY id") as cur:
            return [json.loads(r["content"]) for r in await cur.fetchall() if r["content"]]


def _replies_to(content: dict[str, Any]) -> str | None:
    quoted = ((content.get("m.relates_to") or {}).get("m.in_reply_to") or {}).get("event_id")
    return quoted or content.get("homeward.answers")


@dataclass(frozen=True)
class Script:
    """A whole case on one pathway: the coordinator's lane, the others', and the commands, in order."""

    pathway: str
    first_phase: str
    coordinator_lane: str
    team: tuple[tuple[str, str], ...]
    steps: tuple[tuple[str, str], ...]  # (sender, command); "" fires the reminders due up to the next day


OREBRO = Script(
    "orebro",
    "identifiering",
    "oppenvard",
    ((SARA, "slutenvard"), (KARIN, "kommun"), (MARIA, "vardnadshavare"), (JONAS, "vardnadshavare")),
    (
        (ANNA, "!plan admission 2026-11-30 09:00"),
        (ANNA, "!plan discharge 2026-12-09"),
        ("", ""),  # the Inskrivningsmeddelande falls due, and is overdue
        (SARA, "!send inskrivningsmeddelande"),
        (MARIA, "!consent yes informationsoverforing"),
        (JONAS, "!consent yes informationsoverforing"),
        (SARA, "!send generellt-meddelande"),
        (ANNA, "!meeting new sip_meeting 2026-12-04 10:00"),
        (ANNA, f"!role {MARIA} patient"),  # she answered: the room is told her answers still count
        (ANNA, "!phase next force the walk goes on"),
        (SARA, "!send utskrivningsklarmeddelande"),
        ("", ""),
        ("", ""),  # reminders, and the statutory clock at its limit
        (SARA, "!remind bedoma-utskrivningsklar in 1h"),
        ("", ""),
    ),
)
STHF = Script(
    "sthf",
    "planlegge-utskrivning",
    "sykehus",
    ((SARA, "kommunen"), (KARIN, "kommunen"), (MARIA, "foresatt"), (JONAS, "foresatt")),
    (
        (ANNA, "!plan admission 2026-11-30 09:00"),
        (MARIA, "!consent yes dokumentasjon"),
        (JONAS, "!consent yes dokumentasjon"),
        (ANNA, "!send plo"),
        ("", ""),
        (ANNA, "!meeting new meeting1 2026-12-04 10:00"),
        (ANNA, f"!role {MARIA} familien"),
        (ANNA, "!phase next force the walk goes on"),
        (ANNA, "!phase next force the walk goes on"),
        (ANNA, "!phase next force the walk goes on"),
        (SARA, "!send innkalling-mote-1"),  # a notice to the guardians
        ("", ""),
        ("", ""),
        (ANNA, "!remind planleggingsmote-1 in 1h"),
        ("", ""),
    ),
)


async def walk(store: Store, script: Script, pathways: dict[str, Pathway]) -> list[dict[str, Any]]:
    """A whole case: every message queued."""
    w = Walk(store, pathways)
    language = pathways[script.pathway].language
    async with store.transaction() as db:
        await remember_room(db, DM, "direct", language, START)
        await remember_room(db, ROOM, "case", language, START)
        case_id = await cases.open_case(
            db,
            pathway_id=script.pathway,
            label="Sjostjarna",
            phase_id=script.first_phase,
            opened_by=ANNA,
            opened_in=DM,
            create_outbox=0,
            now=START,
        )
        await cases.bind_room(db, 0, ROOM)
        await cases.put_member(db, case_id, ANNA, script.coordinator_lane, True, ANNA, START)
        checklist = await outbox.enqueue(db, ROOM, "m.room.message", {"body": "checklist"}, START)
        await cases.put_checklist(db, case_id, script.first_phase, checklist)
    for user, lane in script.team:
        await w.run(f"!invite {user} {lane}")
        await w.join(user)
    for sender, command in script.steps:
        if command:
            await w.run(command, sender)
        else:
            await w.fire_due(w.clock.now() + timedelta(days=1, hours=2))
    await w.fire_due(w.clock.now() + timedelta(days=7))  # a week on: the family's regular word
    await w.join("@olle.obehorig:region-orebro.se")  # someone in the room without a lane: removed, coordinators told
    w.n += 1
    await member_left(ROOM, f"$l{w.n}", ANNA, ANNA, "leave", "join", store, w.services)
    return await w.queued()


def english_sthf(tmp_path: Path) -> dict[str, Pathway]:
    """The Telemark pathway in English (a copy with `language: en`), for an English room."""
    text = (default_pathways_dir() / "sthf.yaml").read_text(encoding="utf-8")
    path = tmp_path / "sthf.yaml"
    path.write_text(text.replace("\nlanguage: nb\n", "\nlanguage: en\n"), encoding="utf-8")
    return {"sthf": load_pathway(path)}


NAME = 16  # a display name as Element shows it in a pill


def shown(content: dict[str, Any]) -> int:
    """The length of a message as Element shows it: its plain body, each person a pill with their name."""
    body = content["body"]
    for user in (content.get("m.mentions") or {}).get("user_ids", []):
        body = body.replace(user, "x" * NAME)
    return len(" ".join(body.split()))


@pytest.mark.parametrize("language", ["sv", "nb", "en"])
async def test_every_message_that_names_someone_fits_a_phone_screen(tmp_path: Path, language: str) -> None:
    script = OREBRO if language == "sv" else STHF
    pathways = english_sthf(tmp_path) if language == "en" else PATHWAYS
    store = await Store.open(tmp_path / "homeward.sqlite3")
    try:
        queued = await walk(store, script, pathways)
    finally:
        await store.close()
    naming = [c for c in queued if (c.get("m.mentions") or {}).get("user_ids") and "m.new_content" not in c]
    kinds = {next((k for k in c if k.startswith("homeward.")), "?") for c in naming}
    # The walk reached every kind of message that names people.
    assert {
        "homeward.greeting",
        "homeward.consent_request",
        "homeward.notice",
        "homeward.reminder",
        "homeward.meeting",
        "homeward.answerer_moved",
        "homeward.family_update",
        "homeward.removed",
    } <= kinds, kinds
    too_long = [(shown(c), c["body"]) for c in naming if shown(c) > MENTION_MAX_CHARS]
    assert too_long == [], "\n\n".join(f"{n} characters:\n{body}" for n, body in too_long)
