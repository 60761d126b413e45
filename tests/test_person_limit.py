"""A brake for everyone: one limit on all of a person's commands together.

Over it, the first command is answered with when to try again and nothing runs; later ones are
left unanswered (and never run later) until then; an acknowledgement or a consent answer always
runs and is answered. Other people are not held back, and the per-command limits stay.
(On the real Synapse: tests/integration/test_parallel_sending.py.)
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from homeward.commands.context import IncomingCommand
from homeward.commands.dispatch import handle_command
from homeward.config import Config
from homeward.messages.catalog import Catalog
from homeward.ratelimit import ALL_COMMANDS, PERSON_RATE, Rate, RateLimiter
from homeward.store import outbox
from homeward.store.db import Store
from homeward.work.services import Services
from tests.clock import FakeClock
from tests.test_dispatch_answer import CASE_ROOM, COORDINATOR, DIRECT_ROOM, START, _store_with_a_case

OTHER = "@other:order"


def _services(limit: str | None = "5/1m") -> Services:
    settings: dict[str, object] = {
        "homeserver": "http://127.0.0.1:1",
        "user_id": "@bot:order",
        "password": "x",
        "language": "en",
        "case_openers": ["*"],
    }
    if limit is not None:
        settings["rate_limits"] = {"*": limit}
    from homeward.care.pathway import default_pathways_dir, load_pathways

    return Services(
        config=Config.model_validate(settings),
        catalog=Catalog(),
        clock=FakeClock(START),
        pathways=load_pathways(default_pathways_dir()),
    )


async def _answers(store: Store, services: Services, room: str, bodies: list[str], sender: str = COORDINATOR) -> list:
    """Send each command; for each, the answer it got (None: unanswered)."""
    answers: list = []
    for body in bodies:
        async with store.read() as db:
            before = {row.id for row in await outbox.pending(db, 1000)}
        event_id = f"$cmd-{sender}-{len(answers)}-{body}-{services.clock.now().timestamp()}"
        await handle_command(
            IncomingCommand(
                room_id=room,
                event_id=event_id,
                sender=sender,
                body=body,
                timestamp_ms=0,
                encrypted=True,
                room_encrypted=True,
            ),
            store,
            services,
        )
        async with store.read() as db:
            new = [r for r in await outbox.pending(db, 1000) if r.id not in before and "homeward.command" in r.content]
        answers.append(new[0].content if new else None)
    return answers


async def test_over_the_limit_the_first_command_is_told_when_and_the_rest_go_unanswered(tmp_path: Path) -> None:
    store = await _store_with_a_case(tmp_path / "s.sqlite3")
    services = _services("5/1m")
    try:
        answers = await _answers(store, services, CASE_ROOM, ["!ping"] * 5 + ["!team", "!status", "!ping"])
        clock = services.clock
        assert isinstance(clock, FakeClock)
        clock.advance(timedelta(seconds=61))  # the window has room again
        later = await _answers(store, services, CASE_ROOM, ["!ping"])
    finally:
        await store.close()

    assert [a["homeward.status"] for a in answers[:5]] == ["ok"] * 5
    told = answers[5]
    assert told["homeward.status"] == "error" and told["homeward.reason"] == "brake.too_many"
    assert "5 commands within 1 min" in told["body"] and "again in 1 min" in told["body"]
    assert 0 < told["homeward.retry_after_ms"] <= 60_000
    assert answers[6:] == [None, None]  # answered once
    assert later[0]["homeward.status"] == "ok"


async def test_acknowledgements_and_consent_answers_run_even_over_the_limit(tmp_path: Path) -> None:
    store = await _store_with_a_case(tmp_path / "s.sqlite3")
    services = _services("3/1m")
    try:
        answers = await _answers(
            store, services, CASE_ROOM, ["!ping"] * 3 + ["!ping", "!ack behandlingsteam", "!consent yes x", "!ping"]
        )
    finally:
        await store.close()

    assert answers[3]["homeward.reason"] == "brake.too_many"
    assert answers[4]["homeward.command"] == "ack" and answers[4]["homeward.status"] == "ok"  # recorded
    assert answers[5]["homeward.command"] == "consent yes"  # answered (here: refused, no such consent)
    assert answers[5]["homeward.reason"] != "brake.too_many"
    assert answers[6] is None


async def test_one_persons_flood_does_not_brake_anyone_else(tmp_path: Path) -> None:
    store = await _store_with_a_case(tmp_path / "s.sqlite3")
    services = _services("3/1m")
    try:
        await _answers(store, services, CASE_ROOM, ["!team"] * 10)
        theirs = await _answers(store, services, DIRECT_ROOM, ["!ping"] * 3, sender=OTHER)
    finally:
        await store.close()

    assert [a["homeward.status"] for a in theirs] == ["ok"] * 3


async def test_a_command_over_the_limit_is_never_run_later_and_the_command_limits_stay(tmp_path: Path) -> None:
    store = await _store_with_a_case(tmp_path / "s.sqlite3")
    services = _services("off")
    try:
        answers = await _answers(store, services, DIRECT_ROOM, ["!ping"] * 40)
        async with store.read() as db, db.execute("SELECT COUNT(*) FROM handled_events") as cur:
            row = await cur.fetchone()
    finally:
        await store.close()
    assert row is not None
    handled = row[0]

    assert all(a["homeward.status"] == "ok" for a in answers)  # "off": no brake at all
    assert handled >= 40
    assert services.limiter.rate_for("case new", Rate(10, timedelta(hours=1))) == Rate(10, timedelta(hours=1))


def test_the_default_is_thirty_commands_a_minute_and_star_is_a_known_limit() -> None:
    from homeward.commands.registry import registry

    assert RateLimiter().rate_for(ALL_COMMANDS, PERSON_RATE) == Rate(30, timedelta(minutes=1))
    assert registry.unknown_rate_limits({"*": "10/1m"}) == []


@pytest.mark.parametrize("always", [False, True])
def test_the_limiter_counts_what_runs_and_tells_once(always: bool) -> None:
    limiter = RateLimiter({ALL_COMMANDS: Rate(2, timedelta(minutes=1))})
    now = START
    verdicts = [limiter.person("@a:x", now + timedelta(seconds=n), always=always) for n in range(5)]

    if always:
        assert all(v.run for v in verdicts)
    else:
        assert [v.run for v in verdicts] == [True, True, False, False, False]
        assert [v.tell for v in verdicts] == [False, False, True, False, False]
        assert verdicts[2].wait == timedelta(seconds=58)
