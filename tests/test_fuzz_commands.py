"""Bad input of any kind: the parser and every handler, fed arbitrary text, never crash and
answer each command exactly once with `ok` or a clear `error` (Hypothesis, no homeserver)."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import homeward.commands.handlers  # noqa: F401  (registers every command)
from homeward.commands.context import IncomingCommand
from homeward.commands.dispatch import handle_command
from homeward.commands.registry import registry
from homeward.store import cases
from homeward.store.db import Store
from homeward.store.state import remember_room
from homeward.work.services import Services
from tests.clock import FakeClock
from tests.stores import open_store
from tests.unit import unit_services

CASE_ROOM = "!case:fuzz"
DIRECT_ROOM = "!dm:fuzz"
COORDINATOR = "@coord:fuzz"
NAMES = sorted({c.name for c in registry.all()})
WORDS = st.sampled_from(
    [
        "plo",
        "behandlingsteam",
        "kommunen",
        "sykehus",
        "foresatt",
        "2026-12-14",
        "10:00",
        "force",
        "g1",
        "meeting1",
        "pdf",
        "fhir",
        "ics",
        "@coord:fuzz",
        "@x:y",
        "yes",
        "dokumentasjon",
        "in 2h",
        "\u202e",
        "🎈",
    ]
)


def _services(clock: FakeClock) -> Services:
    return unit_services(clock, user_id="@bot:fuzz", language="en", case_openers=["*"])


async def _store(path: Path, clock: FakeClock) -> Store:
    store = await open_store(path)
    async with store.transaction() as db:
        await remember_room(db, DIRECT_ROOM, "direct", "en", clock.now())
        await remember_room(db, CASE_ROOM, "case", "nb", clock.now())
        case_id = await cases.open_case(
            db,
            pathway_id="sthf",
            label="Fuzz",
            phase_id="planlegge-utskrivning",
            opened_by=COORDINATOR,
            opened_in=DIRECT_ROOM,
            create_outbox=0,
            now=clock.now(),
        )
        await cases.bind_room(db, 0, CASE_ROOM)
        await cases.put_member(db, case_id, COORDINATOR, "sykehus", True, COORDINATOR, clock.now())
    return store


command_text = st.one_of(
    st.text(max_size=300),
    st.builds(
        lambda p, n, args: f"{p}{n} " + " ".join(args),
        st.sampled_from("!/"),
        st.sampled_from(NAMES),
        st.lists(st.one_of(WORDS, st.text(max_size=30)), max_size=6),
    ),
    st.builds(lambda n, junk: f"!{n} {junk}", st.sampled_from(NAMES), st.text(min_size=1, max_size=2000)),
)


@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    body=command_text,
    room=st.sampled_from([CASE_ROOM, DIRECT_ROOM]),
    sender=st.sampled_from([COORDINATOR, "@stranger:fuzz"]),
)
def test_any_text_gets_at_most_one_answer_that_is_ok_or_a_clear_error(
    tmp_path_factory, body: str, room: str, sender: str
) -> None:
    async def run() -> None:
        clock = FakeClock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
        store = await _store(tmp_path_factory.mktemp("fuzz") / "s.sqlite3", clock)
        try:
            event = IncomingCommand(
                room_id=room,
                event_id="$e1",
                sender=sender,
                body=body,
                timestamp_ms=0,
                encrypted=True,
                room_encrypted=True,
            )
            first = await handle_command(event, store, _services(clock))
            again = await handle_command(event, store, _services(clock))  # the same event twice: answered once
            async with (
                store.read() as db,
                db.execute("SELECT content FROM outbox WHERE room_id = ? AND kind = 'event'", (room,)) as cur,
            ):
                answers = [json.loads(r["content"]) for r in await cur.fetchall()]
            answers = [a for a in answers if "homeward.status" in a]
            assert again is False
            assert len(answers) == (1 if first else 0)
            for answer in answers:
                assert answer["homeward.status"] in ("ok", "error")
                assert answer["body"] and "Traceback" not in answer["body"]
                if answer["homeward.status"] == "error":
                    assert answer["homeward.reason"] != "error.internal", (body, answer["body"])  # a bug, not bad input
        finally:
            await store.close()

    asyncio.run(run())
