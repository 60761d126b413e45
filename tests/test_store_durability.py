"""The store file is never left in a state that start-up refuses, whenever the process dies.

A child process (this module run as a script) opens the store the way the bot does and
writes to it through the real command dispatch and the outbox bookkeeping, telling the
parent over a pipe each time a transaction has committed. The parent kills it with
SIGKILL at random moments, then opens the store with the normal start-up code: it must
open, pass SQLite's integrity check, and hold every transaction the child acknowledged,
each command with exactly one answer. A second test kills the child in the middle of a
schema migration.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from homeward.store.db import Store, _split_sql
from homeward.store.migrations import MIGRATIONS
from homeward.store.rows import one_row

# Child processes killed at random moments: about 20 s, left out of `make test-fast`.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
CASE_ROOM, DIRECT_ROOM, COORDINATOR = "!case:durable", "!dm:durable", "@coord:durable"
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
COMMANDS = [
    (CASE_ROOM, "!remind behandlingsteam in 2h"),
    (CASE_ROOM, "!snooze behandlingsteam 2h"),
    (CASE_ROOM, "!minutes meeting1 note {n}"),
    (CASE_ROOM, "!status"),
    (DIRECT_ROOM, "!ping"),
]


# -- the child ------------------------------------------------------------------------------


def say(*words: object) -> None:
    """One line to the parent in one write(2): a kill cannot leave half of it (print may write in pieces)."""
    os.write(1, (" ".join(map(str, words)) + "\n").encode())


def _services():
    import homeward.commands.handlers  # noqa: F401  (registers every command)
    from homeward.care.pathway import default_pathways_dir, load_pathways
    from homeward.clock import Clock
    from homeward.config import Config
    from homeward.messages.catalog import Catalog
    from homeward.work.services import Services

    config = Config.model_validate(
        {
            "homeserver": "http://127.0.0.1:1",
            "user_id": "@bot:durable",
            "password": "x",
            "language": "en",
            "rate_limits": {"*": "off"},  # one sender's hundreds of commands: the per-person brake is not tested here
        }
    )
    return Services(config=config, catalog=Catalog(), clock=Clock(), pathways=load_pathways(default_pathways_dir()))


async def child_write(path: Path, run: str) -> None:
    """Commands and outbox deliveries, forever; one line on stdout after each commit."""
    from homeward.commands.context import IncomingCommand
    from homeward.commands.dispatch import handle_command
    from homeward.store import outbox
    from homeward.store.state import set_value

    services = _services()
    store = await Store.open(path)
    say("open")
    n = 0
    while True:
        room, body = COMMANDS[n % len(COMMANDS)]
        event_id = f"${run}-{n}"
        await handle_command(
            IncomingCommand(
                room_id=room,
                event_id=event_id,
                sender=COORDINATOR,
                body=body.format(n=n),
                timestamp_ms=0,
                encrypted=True,
                room_encrypted=True,
            ),
            store,
            services,
        )
        say("command", event_id)
        if n % 3 == 2:  # what the outbox sender and the sync loop write
            async with store.transaction() as db:
                rows = await outbox.pending(db)
                for row in rows:
                    await outbox.mark_sent(db, row.id, f"$sent-{row.id}", services.clock.now())
                await set_value(db, "sync_token", f"{run}-{n}")
            say("sent", max((r.id for r in rows), default=0), f"{run}-{n}")
        n += 1


async def child_migrate(path: Path) -> None:
    """Open (and so migrate) the store slowly, saying after each statement where it is."""
    import homeward.store.db as db_module

    async def slowly(db, script: str) -> None:
        for statement in db_module._split_sql(script):
            await db.execute(statement)
            async with db.execute("PRAGMA user_version") as cur:
                (version,) = await cur.fetchone()
            say("statement", version + 1)  # inside the transaction of migration version + 1
            await asyncio.sleep(0.02)

    db_module._executescript = slowly
    store = await Store.open(path)
    say("open")
    await store.close()


# -- the parent -----------------------------------------------------------------------------


async def _spawn(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.test_store_durability",
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


def words_of(line: bytes) -> list[str]:
    """A complete line's words; nothing for the unfinished tail a kill may leave."""
    return line.decode().split() if line.endswith(b"\n") else []


async def _start_up_check(path: Path) -> Store:
    """What the bot does at start-up (open, migrate), plus SQLite's own integrity check."""
    store = await Store.open(path)
    async with store.read() as db:
        async with db.execute("PRAGMA integrity_check") as cur:
            assert [r[0] for r in await cur.fetchall()] == ["ok"]
        async with db.execute("PRAGMA foreign_key_check") as cur:
            assert await cur.fetchall() == []
    return store


async def _fresh_store(path: Path) -> None:
    from homeward.commands.context import IncomingCommand
    from homeward.commands.dispatch import handle_command
    from tests.stores import seed_case

    store = await Store.open(path)
    async with store.transaction() as db:
        await seed_case(
            db,
            case_room=CASE_ROOM,
            direct_room=DIRECT_ROOM,
            coordinator=COORDINATOR,
            label="Durable",
            language="nb",
            now=START,
        )
    await handle_command(
        IncomingCommand(
            room_id=CASE_ROOM,
            event_id="$setup",
            sender=COORDINATOR,
            body="!meeting new meeting1 2026-12-10 10:00",
            timestamp_ms=0,
            encrypted=True,
            room_encrypted=True,
        ),
        store,
        _services(),
    )
    await store.close()


async def test_sigkill_at_random_moments_never_loses_an_acknowledged_transaction_and_start_up_accepts_the_store(
    tmp_path: Path,
) -> None:
    path = tmp_path / "homeward.sqlite3"
    await _fresh_store(path)
    rng = random.Random(int(os.environ.get("DURABILITY_SEED", time.time_ns())))
    acknowledged: list[str] = []
    tokens: list[str] = []  # sync positions acknowledged, in order
    sent_up_to = 0
    kills = 6
    for run in range(kills):
        child = await _spawn("write", str(path), f"r{run}")
        assert child.stdout and child.stderr
        assert (await child.stdout.readline()).startswith(b"open"), (await child.stderr.read()).decode()[-2000:]
        wanted = rng.randint(0, 40)  # commits to wait for; 0 kills right after start-up
        seen = 0
        while seen < wanted:
            words = words_of(await child.stdout.readline())
            assert words, (await child.stderr.read()).decode()[-2000:]
            if words[0] == "command":
                acknowledged.append(words[1])
                seen += 1
            elif words[0] == "sent":
                sent_up_to = max(sent_up_to, int(words[1]))
                tokens.append(words[2])
        await asyncio.sleep(rng.uniform(0, 0.03))  # somewhere inside the next transaction, or between two
        child.send_signal(signal.SIGKILL)
        await child.wait()
        async for line in child.stdout:  # lines written just before the kill were committed too
            words = words_of(line)
            if words and words[0] == "command":
                acknowledged.append(words[1])
            elif words and words[0] == "sent":
                sent_up_to = max(sent_up_to, int(words[1]))
                tokens.append(words[2])

        store = await _start_up_check(path)
        try:
            async with store.read() as db:
                async with db.execute("SELECT event_id FROM handled_events") as cur:
                    handled = {r[0] for r in await cur.fetchall()}
                async with db.execute("SELECT content, reply_to, sent_at FROM outbox WHERE kind = 'event'") as cur:
                    rows = await cur.fetchall()
                async with db.execute(
                    "SELECT count(*) FROM outbox WHERE id <= ? AND sent_at IS NULL", (sent_up_to,)
                ) as cur:
                    (unsent,) = await one_row(cur)
                async with db.execute("SELECT value FROM kv WHERE key = 'sync_token'") as cur:
                    row = await cur.fetchone()
        finally:
            await store.close()
        assert set(acknowledged) <= handled, f"run {run}: acknowledged but lost: {set(acknowledged) - handled}"
        unacknowledged = (
            handled - set(acknowledged) - {"$setup"}
        )  # committed, killed before it said so: one per kill at most
        assert all(sum(e.startswith(f"$r{k}-") for e in unacknowledged) <= 1 for k in range(run + 1)), unacknowledged
        replies: dict[str, int] = {}
        for content, reply_to, sent_at in rows:
            if sent_at is not None:  # a sent row keeps only the event it answered (store/outbox.py)
                target = reply_to
            else:
                answer = json.loads(content)
                target = (
                    answer.get("m.relates_to", {}).get("m.in_reply_to", {}).get("event_id")
                    if "homeward.status" in answer
                    else None
                )
            if target is not None:
                replies[target] = replies.get(target, 0) + 1
        assert all(replies.get(event_id) == 1 for event_id in handled), "a handled command without exactly one answer"
        assert unsent == 0  # delivered rows stay delivered
        if tokens:  # the last acknowledged sync position, or the one committed just as it died
            assert row is not None and (row[0] == tokens[-1] or row[0] not in tokens)
    assert len(acknowledged) > 0


@pytest.mark.parametrize("older", [1, 3])
async def test_sigkill_during_a_migration_leaves_the_old_schema_and_start_up_migrates_it(
    tmp_path: Path, older: int
) -> None:
    path = tmp_path / "homeward.sqlite3"
    with sqlite3.connect(path) as raw:  # a store written by an older Homeward, with data in it
        for script in MIGRATIONS[:older]:
            assert isinstance(script, str)
            raw.executescript(script)
        raw.execute(f"PRAGMA user_version = {older}")
        raw.execute("INSERT INTO kv (key, value) VALUES ('sync_token', 'old')")
    rng = random.Random(int(os.environ.get("DURABILITY_SEED", time.time_ns())))
    versions_left = []
    for _ in range(3):
        with sqlite3.connect(path) as raw:
            current = raw.execute("PRAGMA user_version").fetchone()[0]
        # A migration written in Python (chaining the existing rows) says nothing while it runs.
        statements_left = sum(len(_split_sql(script)) for script in MIGRATIONS[current:] if isinstance(script, str))
        if statements_left < 2:
            break
        child = await _spawn("migrate", str(path))
        assert child.stdout
        wanted = rng.randint(
            1, statements_left - 1
        )  # never after the last statement: the kill lands inside a migration
        version_at_kill = current + 1
        for _ in range(wanted):
            words = words_of(await child.stdout.readline())
            if not words or words[0] != "statement":
                break
            version_at_kill = int(words[1])
        child.send_signal(signal.SIGKILL)
        await child.wait()

        with sqlite3.connect(path) as raw:  # as the kill left it: whole migrations only
            version = raw.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            columns = {r[1] for r in raw.execute("PRAGMA table_info(outbox)")}
        versions_left.append(version)
        assert version in (version_at_kill - 1, version_at_kill, len(MIGRATIONS))
        assert ("kind" in columns) == (version >= 2) and ("reminders" in tables) == (version >= 3)
        assert ("consent_answers" in tables) == (version >= 4) and ("plan_changes" in tables) == (version >= 5)
        assert (
            ("extra_tasks" in tables) == (version >= 6)
            and ("room_state" in tables) == (version >= 7)
            and ("content_size" in columns) == (version >= 8)
        )
    assert any(v < len(MIGRATIONS) for v in versions_left)  # at least one kill was inside a migration

    store = await _start_up_check(path)
    try:
        async with store.read() as db:
            async with db.execute("PRAGMA user_version") as cur:
                assert (await one_row(cur))[0] == len(MIGRATIONS)
            async with db.execute("SELECT value FROM kv WHERE key = 'sync_token'") as cur:
                assert (await one_row(cur))[0] == "old"
    finally:
        await store.close()


if __name__ == "__main__":
    if sys.argv[1] == "write":
        asyncio.run(child_write(Path(sys.argv[2]), sys.argv[3]))
    else:
        asyncio.run(child_migrate(Path(sys.argv[2])))
