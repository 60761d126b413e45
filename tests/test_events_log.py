"""The open event log, as the bot writes it without a homeserver: `!export events`, `!reason`, the review at
the closing, and `homeward export-events` over the same store.

An Örebro case walked through its commands with a clock the test moves: admitted Monday
30 November 2026 10:00, the Inskrivningsmeddelande sent late (due Tuesday 10:00, sent
Tuesday 15:00), acknowledged late by the kommun with a reason, which it then changes.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import jsonschema
import pytest

import homeward.commands.handlers  # noqa: F401  (registers every command)
from homeward.care.events import COLUMNS, SCHEMA
from homeward.care.pathway import default_pathways_dir, load_pathways
from homeward.commands.context import IncomingCommand
from homeward.commands.dispatch import handle_command
from homeward.config import Config
from homeward.exports.events import EVENT_SCHEMA
from homeward.messages.catalog import Catalog
from homeward.store import cases, outbox
from homeward.store.db import Store
from homeward.store.state import remember_room
from homeward.work.services import Services
from tests.clock import FakeClock

STOCKHOLM = ZoneInfo("Europe/Stockholm")
ROOM, DM = "!case:x", "!dm:x"
CORA, SARA, KARL, OLLE = "@cora:x", "@sara:x", "@karl:x", "@olle:x"
MOR = "@mor:x"
LABEL = "Hemligt-Namn"
ROOT = Path(__file__).resolve().parent.parent


def se(day: int, hour: int, month: int = 12) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=STOCKHOLM)


class Case:
    """A store with one Örebro case in room !case:x, and a way to type commands into it at the clock's time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.clock = FakeClock(se(30, 9, month=11))
        self.store: Store
        self.counter = 0
        config = Config.model_validate(
            {
                "homeserver": "http://127.0.0.1:1",
                "user_id": "@bot:x",
                "password": "x",
                "language": "en",
                "data_dir": str(path.parent),
                "case_openers": ["*:x"],
            }
        )
        self.config = config
        self.services = Services(
            config=config, catalog=Catalog(), clock=self.clock, pathways=load_pathways(default_pathways_dir())
        )

    async def open(self) -> None:
        self.store = await Store.open(self.config.store_path)
        async with self.store.transaction() as db:
            await remember_room(db, DM, "direct", "en", self.clock.now())
        answer = await self.run(DM, CORA, f"!case new orebro {LABEL}")
        assert answer["homeward.status"] == "ok", answer["body"]
        created = answer["homeward.room_id"]
        async with self.store.transaction() as db:
            await remember_room(db, ROOM, "case", "sv", self.clock.now())
            await cases.bind_room(db, int(created.removeprefix(outbox.PLACEHOLDER)), ROOM)
            case_id = (await cases.load_room(db, ROOM, self.services.pathways))[1].case.id  # type: ignore[union-attr]
            for user, lane in ((SARA, "slutenvard"), (KARL, "kommun"), (OLLE, "oppenvard")):
                await cases.put_member(db, case_id, user, lane, False, CORA, self.clock.now())

    async def run(self, room: str, sender: str, body: str, reply_to: str | None = None) -> dict:
        self.counter += 1
        async with self.store.read() as db:
            before = {row.id for row in await outbox.pending(db)}
        await handle_command(
            IncomingCommand(
                room_id=room,
                event_id=f"$e{self.counter}",
                sender=sender,
                body=body,
                encrypted=True,
                room_encrypted=True,
                timestamp_ms=0,
                in_reply_to=reply_to,
            ),
            self.store,
            self.services,
        )
        async with self.store.read() as db:
            rows = [row for row in await outbox.pending(db) if row.id not in before]
        self.last = rows
        return next(r.content for r in rows if "homeward.command" in r.content)

    def at(self, moment: datetime) -> None:
        self.clock.set(moment)


@pytest.fixture
async def case(tmp_path: Path):
    walked = Case(tmp_path / "data" / "homeward.sqlite3")
    (tmp_path / "data").mkdir()
    await walked.open()
    yield walked
    await walked.store.close()


def ok(answer: dict) -> dict:
    assert answer["homeward.status"] == "ok", answer["body"]
    return answer


async def walk(case: Case) -> None:
    """The scripted case: late sending, late receipt with a reason changed once, then closed."""
    ok(await case.run(ROOM, CORA, "!plan admission 2026-11-30 10:00"))
    case.at(se(1, 15))
    ok(await case.run(ROOM, SARA, "!send inskrivningsmeddelande"))
    case.at(se(3, 9))  # to acknowledge by Wednesday 2 December 16:00: the kommun is late
    ok(await case.run(ROOM, KARL, "!ack inskrivningsmeddelande"))
    ok(await case.run(ROOM, KARL, "!reason inskrivningsmeddelande personal"))
    ok(await case.run(ROOM, KARL, "!reason inskrivningsmeddelande beslut"))
    ok(await case.run(ROOM, CORA, "!reason inskrivningsmeddelande annat slutenvard"))  # for the sender, late too


async def test_a_lane_says_why_changes_it_and_each_answer_is_audited(case: Case) -> None:
    await walk(case)
    status = ok(await case.run(ROOM, CORA, "!status"))
    item = next(i for i in status["homeward.case"]["items"] if i["id"] == "inskrivningsmeddelande")
    assert item["reasons"]["kommun"]["reason"] == "beslut" and item["reasons"]["kommun"]["code"] == "decision"
    assert item["reasons"]["slutenvard"]["on_behalf"] is True
    assert "Väntar på ansökan eller beslut" in status["body"]
    async with case.store.read() as db:
        rows = [r for r in await cases.audit_rows(db, 1) if r.action == "delay.reason"]
    details = [json.loads(r.details) for r in rows]
    assert [(d["lane"], d["reason"], d["previous"], d["on_behalf"]) for d in details] == [
        ("kommun", "personal", None, False),
        ("kommun", "beslut", "personal", False),
        ("slutenvard", "annat", None, True),
    ]
    assert [r.actor for r in rows] == [KARL, KARL, CORA]


async def test_a_reason_for_another_lane_or_an_item_not_late_is_refused(case: Case) -> None:
    ok(await case.run(ROOM, CORA, "!plan admission 2026-11-30 10:00"))
    early = await case.run(ROOM, SARA, "!reason inskrivningsmeddelande annat")
    assert early["homeward.status"] == "error" and "inte försenad" in early["body"]
    case.at(se(1, 15))
    other = await case.run(ROOM, KARL, "!reason inskrivningsmeddelande annat")
    assert other["homeward.status"] == "error" and "Slutenvård" in other["body"]
    unknown = await case.run(ROOM, SARA, "!reason inskrivningsmeddelande weather")
    assert unknown["homeward.status"] == "error" and "`hjalpmedel`" in unknown["body"]


async def test_the_event_log_of_a_scripted_case_matches_its_schema_and_holds_no_name_or_user_id(case: Case) -> None:
    await walk(case)
    case.at(se(4, 10))
    ok(await case.run(ROOM, CORA, "!case close force Flyttade till annan region"))
    answer = ok(await case.run(ROOM, CORA, "!export events ndjson"))
    (file_row,) = [r for r in case.last if r.kind == outbox.FILE]
    data = base64.b64decode(file_row.content["data_b64"])
    assert answer["homeward.export"]["schema"] == SCHEMA and LABEL not in file_row.content["filename"]
    text = data.decode("utf-8")
    for secret in (LABEL, "Hemligt", CORA, SARA, KARL, OLLE, "cora", "karl", "Flyttade"):
        assert secret not in text
    rows = [json.loads(line) for line in text.splitlines()]
    validator = jsonschema.Draft202012Validator(EVENT_SCHEMA, format_checker=jsonschema.FormatChecker())
    for row in rows:
        validator.validate(row)
    sent = next(r for r in rows if r["event"] == "notice_sent")
    assert (sent["item"], sent["lane"], sent["phase"], sent["late_by_hours"]) == (
        "inskrivningsmeddelande",
        "slutenvard",
        "identifiering",
        5.0,
    )
    receipt = next(r for r in rows if r["event"] == "acknowledged" and r["lane"] == "kommun")
    assert receipt["late_by_hours"] == 17.0 and receipt["due"] == "2026-12-02T15:00:00Z"
    reasons = [(r["lane"], r["reason_code"], r["detail"]) for r in rows if r["event"] == "reason_given"]
    assert reasons == [
        ("kommun", "staff", "given"),
        ("kommun", "decision", "changed"),
        ("slutenvard", "other", "given"),
    ]
    assert [r["event"] for r in rows][:2] == ["case_opened", "phase_entered"] and rows[-1]["event"] != "case_opened"
    assert {r["case"] for r in rows} == {rows[0]["case"]} and rows[0]["pathway_version"] == "1"


async def test_the_regions_event_log_is_the_same_rows_for_every_case_and_a_period(case: Case, tmp_path: Path) -> None:
    await walk(case)
    ok(await case.run(ROOM, CORA, "!export events csv"))
    (file_row,) = [r for r in case.last if r.kind == outbox.FILE]
    in_room = list(csv.DictReader(io.StringIO(base64.b64decode(file_row.content["data_b64"]).decode("utf-8"))))
    await case.store.close()
    config = tmp_path / "homeward.toml"
    config.write_text(
        f'homeserver = "http://127.0.0.1:1"\nuser_id = "@bot:x"\npassword = "x"\ndata_dir = "{case.config.data_dir}"\n',
        encoding="utf-8",
    )
    run = subprocess.run(
        [sys.executable, "-m", "homeward.cli", "export-events", "--config", str(config), "--format", "csv"],
        capture_output=True,
        check=True,
        cwd=tmp_path,
    )
    region = list(csv.DictReader(io.StringIO(run.stdout.decode("utf-8"))))
    assert list(region[0]) == list(COLUMNS)
    keep = [c for c in COLUMNS if c not in ("value",)]
    without_now = [{k: r[k] for k in keep} for r in region if r["event"] != "waiting"]
    assert without_now == [{k: r[k] for k in keep} for r in in_room if r["event"] != "waiting"]
    period = subprocess.run(
        [sys.executable, "-m", "homeward.cli", "export-events", "--config", str(config), "--from", "2026-12-03"],
        capture_output=True,
        check=True,
        cwd=tmp_path,
    )
    later = list(csv.DictReader(io.StringIO(period.stdout.decode("utf-8"))))
    assert later and all(r["at"] >= "2026-12-02T23:00:00Z" for r in later)
    case.store = await Store.open(case.config.store_path)  # the fixture closes it again


def test_the_documented_schema_is_the_one_the_code_writes() -> None:
    on_disk = json.loads((ROOT / "docs" / "events.schema.json").read_text(encoding="utf-8"))
    assert on_disk == EVENT_SCHEMA
    documented = (ROOT / "docs" / "EVENTS.md").read_text(encoding="utf-8")
    for column in COLUMNS:
        assert f"`{column}`" in documented, column
    assert SCHEMA in documented


async def test_the_review_at_the_closing_names_the_late_steps_and_why(case: Case) -> None:
    await walk(case)
    case.at(se(4, 10))
    ok(await case.run(ROOM, CORA, "!case close force Klart"))
    reviews = [r.content for r in case.last if "homeward.review" in r.content]
    assert len(reviews) == 1
    review = reviews[0]["homeward.review"]
    late = {(s["item"], s["lane"], s["step"]): s for s in review["late"]}
    assert late[("inskrivningsmeddelande", "kommun", "ack")]["reason"] == "beslut"
    assert late[("inskrivningsmeddelande", "kommun", "ack")]["days"] == round(17 / 24, 2)
    assert late[("inskrivningsmeddelande", "slutenvard", "send")]["code"] == "other"
    body = reviews[0]["body"]
    assert "Genomgång av" in body and "Väntar på ansökan eller beslut (SoL/LSS)" in body
    assert review["phases"][0]["id"] == "identifiering" and review["closed_at"].startswith("2026-12-04T09:00")


async def test_the_case_export_carries_the_reasons_the_lanes_gave(case: Case) -> None:
    await walk(case)
    async with case.store.transaction() as db:
        await cases.put_member(db, 1, MOR, "vardnadshavare", False, CORA, case.clock.now())
    ok(await case.run(ROOM, MOR, "!consent yes informationsoverforing"))  # the case export needs it
    ok(await case.run(ROOM, CORA, "!export case md"))
    (file_row,) = [r for r in case.last if r.kind == outbox.FILE]
    row = next(
        line
        for line in base64.b64decode(file_row.content["data_b64"]).decode("utf-8").splitlines()
        if line.startswith("| inskrivningsmeddelande ")
    )
    assert "Kommun: Väntar på ansökan eller beslut (SoL/LSS)" in row and "Slutenvård: Annat" in row
    assert "Väntar på personal i kommunen" not in row  # the answer the kommun changed


async def test_the_case_pdf_of_a_closed_case_carries_the_review_posted_at_the_closing(case: Case) -> None:
    from pypdf import PdfReader

    await walk(case)
    async with case.store.transaction() as db:
        await cases.put_member(db, 1, MOR, "vardnadshavare", False, CORA, case.clock.now())
    ok(await case.run(ROOM, MOR, "!consent yes informationsoverforing"))
    case.at(se(4, 10))
    ok(await case.run(ROOM, CORA, "!case close force Klart"))
    (posted,) = [r.content for r in case.last if "homeward.review" in r.content]
    case.at(se(7, 10))  # days later: the review is the case's, as it closed
    ok(await case.run(ROOM, CORA, "!export case pdf"))
    (file_row,) = [r for r in case.last if r.kind == outbox.FILE]
    reader = PdfReader(io.BytesIO(base64.b64decode(file_row.content["data_b64"])))
    text = " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)
    assert "Genomgång vid avslutning" in text and "Väntar på ansökan eller beslut (SoL/LSS)" in text
    # the figures of the review posted at the closing: the kommun 17 hours late, four days in the phase
    late = {(s["lane"], s["step"]): s for s in posted["homeward.review"]["late"]}
    assert late[("kommun", "ack")]["days"] == round(17 / 24, 2) and late[("kommun", "ack")]["reason"] == "beslut"
    assert "kvitterad 17 tim för sent" in posted["body"] and "kvitterad 17 tim för sent" in text
    assert "Identifiering, Bedömning: 4 dagar" in posted["body"] and "Identifiering, Bedömning: 4 dagar" in text
