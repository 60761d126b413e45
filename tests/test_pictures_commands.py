"""`!timeline` and `!stats` as the bot runs them (no homeserver): what they queue, who may ask, wrong input.

And the m.image event the sender makes of a picture's outbox row: size and thumbnail
announced, both files encrypted (the mxc URIs only inside their `file` objects).
"""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

import homeward.commands.handlers  # noqa: F401  (registers every command)
from homeward.bot.sender import file_message
from homeward.commands.context import IncomingCommand
from homeward.commands.dispatch import handle_command
from homeward.store import cases, outbox
from homeward.store.db import Store
from homeward.store.state import remember_room
from homeward.work.services import Services
from tests.clock import FakeClock
from tests.stores import open_store
from tests.unit import unit_services

#: The tests marked ON_EACH_ENGINE run on SQLite and on PostgreSQL (tests/conftest.py).
ON_EACH_ENGINE = pytest.mark.usefixtures("each_engine")

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CORA, KARL, NOBODY = "@cora:x", "@karl:x", "@nobody:x"
DM = "!dm:x"


def _services(clock: FakeClock) -> Services:
    return unit_services(clock, user_id="@bot:x", language="en")


async def _store(path: Path, pathway: str = "orebro", count: int = 1) -> Store:
    """`count` cases of `pathway` coordinated by Cora, in rooms !case-0:x…; Karl is in the first one's kommun lane."""
    store = await open_store(path)
    phase = "planering" if pathway == "orebro" else "planlegge-utskrivning"
    async with store.transaction() as db:
        await remember_room(db, DM, "direct", "en", START)
        for n in range(count):
            room = f"!case-{pathway}-{n}:x"
            await remember_room(db, room, "case", "sv" if pathway == "orebro" else "nb", START)
            case_id = await cases.open_case(
                db,
                pathway_id=pathway,
                label=f"Hemlig{n}",
                phase_id=phase,
                opened_by=CORA,
                opened_in=DM,
                create_outbox=1000 + n,
                now=START - timedelta(days=n),
            )
            await cases.bind_room(db, 1000 + n, room)
            await cases.put_member(db, case_id, CORA, None, True, CORA, START)
            if n == 0:
                await cases.put_member(
                    db, case_id, KARL, "kommun" if pathway == "orebro" else "kommunen", False, CORA, START
                )
    return store


async def _run(store: Store, services: Services, room: str, sender: str, body: str) -> list[outbox.OutboxRow]:
    async with store.read() as db:
        before = {row.id for row in await outbox.pending(db)}
    await handle_command(
        IncomingCommand(
            room_id=room,
            event_id=f"${abs(hash((room, body, sender)))}",
            sender=sender,
            body=body,
            encrypted=True,
            room_encrypted=True,
            timestamp_ms=0,
            private=room == DM,  # `!stats` answers only in a chat of the sender and the bot alone
        ),
        store,
        services,
    )
    async with store.read() as db:
        return [row for row in await outbox.pending(db) if row.id not in before]


def answer(rows: list[outbox.OutboxRow]) -> dict:
    return next(r.content for r in rows if "homeward.command" in r.content)


# --- !timeline ----------------------------------------------------------------------------------
async def test_timeline_of_a_case_with_nothing_planned_says_so_and_posts_no_picture(tmp_path: Path) -> None:
    store = await _store(tmp_path / "s.sqlite3")
    try:
        rows = await _run(store, _services(FakeClock(START)), "!case-orebro-0:x", KARL, "!timeline")
    finally:
        await store.close()
    assert [r.kind for r in rows] == [outbox.EVENT]
    content = answer(rows)
    assert content["homeward.status"] == "ok" and content["homeward.timeline"]["empty"] is True
    assert "Inget är planerat" in content["body"]


@ON_EACH_ENGINE
async def test_timeline_posts_an_image_with_its_size_and_thumbnail_before_the_answer(tmp_path: Path) -> None:
    store = await _store(tmp_path / "s.sqlite3")
    clock = FakeClock(START)
    services = _services(clock)
    try:
        assert (
            answer(await _run(store, services, "!case-orebro-0:x", CORA, "!plan admission 2026-11-30 10:00"))[
                "homeward.status"
            ]
            == "ok"
        )
        rows = await _run(store, services, "!case-orebro-0:x", KARL, "!timeline")
    finally:
        await store.close()
    assert [r.kind for r in rows] == [outbox.FILE, outbox.EVENT]
    image = rows[0].content
    assert image["msgtype"] == "m.image" and image["mimetype"] == "image/png" and "encrypted_only" not in image
    png = base64.b64decode(image["data_b64"])
    with Image.open(io.BytesIO(png)) as drawn:
        assert drawn.size == (image["info"]["w"], image["info"]["h"]) and image["info"]["size"] == len(png)
    with Image.open(io.BytesIO(base64.b64decode(image["thumbnail_b64"]))) as small:
        assert small.size == (image["thumbnail_info"]["w"], image["thumbnail_info"]["h"])
    content = answer(rows)
    assert content["homeward.timeline"]["image"]["sha256"] == image["homeward.picture"]["sha256"]
    assert {i["id"] for i in content["homeward.timeline"]["items"]} >= {"inskrivningsmeddelande"}
    assert "Hemlig0" in content["body"]  # the care room knows its own case


async def test_timeline_is_for_care_rooms_only(tmp_path: Path) -> None:
    store = await _store(tmp_path / "s.sqlite3")
    try:
        rows = await _run(store, _services(FakeClock(START)), DM, CORA, "!timeline")
    finally:
        await store.close()
    assert answer(rows)["homeward.reason"] == "error.only_in_case_room"


# --- !stats ----------------------------------------------------------------------------------------
@ON_EACH_ENGINE
async def test_stats_posts_a_chart_and_a_csv_only_into_an_encrypted_room_with_the_figures(tmp_path: Path) -> None:
    store = await _store(tmp_path / "s.sqlite3", count=6)
    try:
        rows = await _run(store, _services(FakeClock(START)), DM, CORA, "!stats")
    finally:
        await store.close()
    assert [r.kind for r in rows] == [outbox.FILE, outbox.FILE, outbox.FILE, outbox.EVENT]
    chart, waits, table = rows[0].content, rows[1].content, rows[2].content  # the chart of why children wait too
    assert chart["msgtype"] == "m.image" and chart["encrypted_only"] is True and chart["filename"].endswith(".png")
    assert (
        waits["msgtype"] == "m.image" and waits["encrypted_only"] is True and waits["filename"].endswith("-waits.png")
    )
    assert table["msgtype"] == "m.file" and table["mimetype"] == "text/csv" and table["encrypted_only"] is True
    content = answer(rows)
    assert content["homeward.status"] == "ok" and content["homeward.stats"]["cases"] == 6
    assert content["homeward.stats"]["pathway"] == "orebro"
    text = base64.b64decode(table["data_b64"]).decode("utf-8-sig")
    assert "Hemlig" not in text and "Hemlig" not in content["body"] and "Hemlig" not in str(content["homeward.stats"])


async def test_stats_over_fewer_than_five_cases_shows_no_number(tmp_path: Path) -> None:
    store = await _store(tmp_path / "s.sqlite3", count=3)
    try:
        rows = await _run(store, _services(FakeClock(START)), DM, CORA, "!stats orebro 2026-11-01 2026-12-31")
    finally:
        await store.close()
    content = answer(rows)
    assert content["homeward.stats"]["cases"] == "< 5" and content["homeward.stats"]["from"] == "2026-11-01"
    # The direct chat speaks the language of the coordinator's care rooms (Örebro's: Swedish).
    assert "färre än 5" in content["body"] and " 3 " not in content["body"]


async def test_stats_for_someone_who_coordinates_nothing_gives_no_figures(tmp_path: Path) -> None:
    store = await _store(tmp_path / "s.sqlite3", count=6)
    try:
        rows = await _run(store, _services(FakeClock(START)), DM, KARL, "!stats")  # a member, not a coordinator
    finally:
        await store.close()
    assert [r.kind for r in rows] == [outbox.EVENT] and answer(rows)["homeward.reason"] == "stats.no_cases"


@ON_EACH_ENGINE
async def test_stats_asks_which_pathway_when_the_cases_follow_two(tmp_path: Path) -> None:
    store = await _store(tmp_path / "s.sqlite3", count=2)
    try:
        async with store.transaction() as db:
            await remember_room(db, "!no:x", "case", "nb", START)
            case_id = await cases.open_case(
                db,
                pathway_id="sthf",
                label="N",
                phase_id="planlegge-utskrivning",
                opened_by=CORA,
                opened_in=DM,
                create_outbox=99,
                now=START,
            )
            await cases.bind_room(db, 99, "!no:x")
            await cases.put_member(db, case_id, CORA, None, True, CORA, START)
        services = _services(FakeClock(START))
        rows = await _run(store, services, DM, CORA, "!stats")
        chosen = await _run(store, services, DM, CORA, "!stats sthf")
    finally:
        await store.close()
    assert answer(rows)["homeward.reason"] == "stats.which_pathway" and "`!stats orebro`" in answer(rows)["body"]
    assert answer(chosen)["homeward.stats"]["pathway"] == "sthf"


async def test_stats_refuses_wrong_input_clearly(tmp_path: Path) -> None:
    store = await _store(tmp_path / "s.sqlite3", count=1)
    services = _services(FakeClock(START))
    try:
        unknown = answer(await _run(store, services, DM, CORA, "!stats narnia"))
        baddate = answer(await _run(store, services, DM, CORA, "!stats orebro 2026-13-01"))
        backwards = answer(await _run(store, services, DM, CORA, "!stats 2026-12-31 2026-01-01"))
        in_room = answer(await _run(store, services, "!case-orebro-0:x", CORA, "!stats"))
    finally:
        await store.close()
    assert unknown["homeward.reason"] == "case.unknown_pathway" and "orebro" in unknown["body"]
    assert baddate["homeward.reason"] == "plan.no_such_date"
    assert backwards["homeward.reason"] == "stats.from_after_to"
    assert in_room["homeward.reason"] == "error.not_in_case_room"


# --- the m.image event ---------------------------------------------------------------------------------
IMAGE = {
    "filename": "timeline-X.png",
    "mimetype": "image/png",
    "data_b64": "",
    "body": "timeline-X.png",
    "msgtype": "m.image",
    "info": {"mimetype": "image/png", "size": 9, "w": 1430, "h": 900},
    "thumbnail_b64": "",
    "thumbnail_info": {"w": 800, "h": 503, "mimetype": "image/png", "size": 4},
    "homeward.picture": {"kind": "timeline"},
    "encrypted_only": True,
}
KEYS = {"v": "v2", "key": {"k": "K", "alg": "A256CTR"}, "iv": "IV", "hashes": {"sha256": "H"}}
THUMB_KEYS = {"v": "v2", "key": {"k": "T", "alg": "A256CTR"}, "iv": "TIV", "hashes": {"sha256": "TH"}}


def test_an_encrypted_image_announces_its_size_and_an_encrypted_thumbnail() -> None:
    message = file_message(IMAGE, "mxc://x/big", 9, KEYS, ("mxc://x/small", THUMB_KEYS))
    assert (
        message["msgtype"] == "m.image" and message["file"] == {**KEYS, "url": "mxc://x/big"} and "url" not in message
    )
    info = message["info"]
    assert (info["w"], info["h"], info["mimetype"], info["size"]) == (1430, 900, "image/png", 9)
    assert info["thumbnail_info"] == {"w": 800, "h": 503, "mimetype": "image/png", "size": 4}
    assert info["thumbnail_file"] == {**THUMB_KEYS, "url": "mxc://x/small"} and "thumbnail_url" not in info
    assert message["homeward.picture"] == {"kind": "timeline"}
    assert not {"data_b64", "thumbnail_b64", "encrypted_only"} & set(message)


def test_a_plain_image_has_top_level_urls() -> None:
    message = file_message(IMAGE, "mxc://x/big", 9, None, ("mxc://x/small", None))
    assert message["url"] == "mxc://x/big" and message["info"]["thumbnail_url"] == "mxc://x/small"


# --- the case export carries the timeline ------------------------------------------------------------------
async def test_the_case_export_carries_the_timeline_and_the_plan_export_does_not(tmp_path: Path) -> None:
    from homeward.care.consent import Answer
    from homeward.store import consents

    store = await _store(tmp_path / "s.sqlite3")
    services = _services(FakeClock(START))
    try:
        async with store.transaction() as db:
            await cases.put_member(db, 1, "@guardian:x", "vardnadshavare", False, CORA, START)
            await consents.add_answer(db, 1, Answer("informationsoverforing", "@guardian:x", "yes", START), "$consent")
        await _run(store, services, "!case-orebro-0:x", CORA, "!plan admission 2026-11-30 10:00")
        case_rows = await _run(store, services, "!case-orebro-0:x", KARL, "!export case html")
        plan_rows = await _run(store, services, "!case-orebro-0:x", KARL, "!export plan html")
    finally:
        await store.close()
    assert answer(case_rows)["homeward.status"] == "ok", answer(case_rows)["body"]
    case_html = base64.b64decode(next(r for r in case_rows if r.kind == outbox.FILE).content["data_b64"]).decode(
        "utf-8"
    )
    plan_html = base64.b64decode(next(r for r in plan_rows if r.kind == outbox.FILE).content["data_b64"]).decode(
        "utf-8"
    )
    assert '<img class="timeline" src="data:image/png;base64,' in case_html and "Tidslinje" in case_html
    assert "data:image/png" not in plan_html
