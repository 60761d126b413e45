"""A bot killed with SIGKILL loses nothing and does nothing twice: commands, answers, reminders."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from homeward.store import outbox
from tests.harness import BotProcess, Member, reply_target
from tests.integration.care import bring_in, item, ok, open_case
from tests.integration.conftest import direct_room
from tests.integration.ledger import Ledger

STOCKHOLM = ZoneInfo("Europe/Stockholm")
OSLO = ZoneInfo("Europe/Oslo")
DUE = datetime(2026, 12, 1, 10, 0, tzinfo=STOCKHOLM)


def _config(path: Path, synapse, user_id: str, password: str, shift: float) -> None:
    path.write_text(
        f'homeserver = "{synapse.url}"\nuser_id = "{user_id}"\npassword = "{password}"\n'
        f'data_dir = "data"\nallowed_inviters = ["*:{synapse.server_name}"]\n'
        f'case_openers = ["*:{synapse.server_name}"]\nlanguage = "en"\n'
        'rate_limits = { "*" = "off" }\n'  # three people each send a command every 0.1-0.8 s
        f'time_shift_seconds = {shift}\nlog_level = "INFO"\n',
        encoding="utf-8",
    )


def _shift_to(moment: datetime) -> float:
    return (moment - datetime.now(UTC)).total_seconds()


async def test_reminders_due_while_the_bot_was_killed_are_sent_once_and_marked_late(
    synapse, new_user, make_member, tmp_path
):
    user_id, password = await new_user(prefix="homeward")
    config = tmp_path / "homeward.toml"
    shift = _shift_to(DUE) - 40  # the bot's clock starts 40 s before the reminders are due
    _config(config, synapse, user_id, password, shift)
    bot = BotProcess(config, tmp_path / "bot.log")
    await bot.start()
    try:
        anna = await make_member("anna")
        runner = type("Runner", (), {"user_id": user_id})()
        room, _ = await open_case(anna, runner, "orebro", "Sjostjerne")
        await anna.command(room, f"!role {anna.user_id} slutenvard coordinator")
        await anna.command(room, "!plan admission 2026-11-30 10:00")  # Inskrivningsmeddelande due 10:00
        for item in ("generellt-meddelande", "kontaktperson-kommun", "konsultation"):
            answer = await anna.command(room, f"!remind {item} 2026-12-01 10:00")
            assert answer.content["homeward.status"] == "ok", answer.content["body"]

        await bot.kill()  # dead before 10:00; the reminders come due while it is down
        await asyncio.sleep(2)
        _config(config, synapse, user_id, password, shift + 180)  # and it stays dead for three minutes of its time
        await bot.start()

        expected = {
            ("inskrivningsmeddelande", "due"),
            ("generellt-meddelande", "custom"),
            ("kontaktperson-kommun", "custom"),
            ("konsultation", "custom"),
        }

        def sent() -> list[tuple[str, str]]:
            return [
                (s.content["homeward.reminder"]["item"], s.content["homeward.reminder"]["kind"])
                for s in anna.seen
                if s.room_id == room and "homeward.reminder" in s.content
            ]

        for _ in range(120):
            if set(sent()) >= expected:
                break
            await asyncio.sleep(0.25)
        await anna.command(room, "!ping", timeout=30)
        await asyncio.sleep(2)

        assert sorted(sent()) == sorted(expected)  # each exactly once
        for seen in (s for s in anna.seen if s.room_id == room and "homeward.reminder" in s.content):
            reminder = seen.content["homeward.reminder"]
            assert reminder["late"] is True
            assert datetime.fromisoformat(reminder["planned_at"]) == DUE
            assert "10:00" in seen.content["body"]
    finally:
        await bot.stop()


async def test_three_users_and_ninety_commands_survive_five_kills_exactly_once(
    synapse, new_user, make_member, tmp_path
):
    """The issue's crash test: SIGKILL at random moments while three people work in one case.

    Afterwards every command the homeserver accepted was applied once, answered once,
    audited once, and no reminder reached the room twice (tests/integration/ledger.py).
    Ninety commands (thirty each) last about as long as five kills, each 2-6.5 s after the last
    restart: more commands only added kills (eight or so for 200). The long soak, ten kills and
    200 commands across a standby pair, is bench/standby.py.
    """
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    print(f"crash test seed {seed}")  # shown on failure, to replay the same kill moments
    due = datetime(2026, 12, 1, 10, 0, tzinfo=OSLO)
    user_id, password = await new_user(prefix="homeward")
    config = tmp_path / "homeward.toml"
    shift = _shift_to(due) - 600  # nothing comes due during the set-up
    _config(config, synapse, user_id, password, shift)
    bot = BotProcess(config, tmp_path / "bot.log")
    await bot.start()
    try:
        ingrid, kari, per = [await make_member(n) for n in ("ingrid", "kari", "per")]
        runner = type("Runner", (), {"user_id": user_id})()
        room, _ = await open_case(ingrid, runner, "sthf", "Maane")
        ok(await ingrid.command(room, f"!role {ingrid.user_id} sykehus coordinator"))
        await bring_in(ingrid, room, kari, "kommunen")
        for item_id in ("behandlingsteam", "kartlegge-bistandsbehov"):  # nobody in the burst touches these
            ok(await kari.command(room, f"!remind {item_id} 2026-12-01 10:00"))
        await bring_in(ingrid, room, per, "foresatt")
        ok(await per.command(room, "!consent yes individuell-plan"))

        ledger = Ledger(room)
        scripts = [
            (
                ingrid,
                [f"!plan goal Mål {n}" if n % 2 else rng.choice(["!status", "!ping", "!reminders"]) for n in range(30)],
            ),
            (
                kari,
                [
                    rng.choice(
                        [
                            "!ack starte-saksbehandling",
                            "!ack ressursteam",
                            "!ack planleggingsmote-1",
                            "!ack plo",
                            "!status",
                            "!snooze ressursteam 2h",
                            "!plan goal Ikke min",
                        ]
                    )
                    for _ in range(30)
                ],
            ),
            (per, [rng.choice(["!status", "!consents", "!ping", "!ack hjemreise", "!team"]) for _ in range(30)]),
        ]

        async def work(member: Member, commands: list[str]) -> None:
            for text in commands:
                await ledger.send(member, text)
                await asyncio.sleep(rng.uniform(0.1, 0.8))

        # The reminders come due mid-burst, however long the set-up took: each process reads its clock's
        # shift at start, so from the first restart on the bot's clock is 12 s before them.
        running_shift, shift = shift, _shift_to(due) - 12  # the running process keeps its shift until killed
        _config(config, synapse, user_id, password, shift)
        burst = asyncio.gather(*(work(m, c) for m, c in scripts))
        kills, kill_times = 0, []
        while not burst.done() or kills < 5:
            await asyncio.sleep(rng.uniform(1.5, 5.0))
            await bot.kill()
            kills += 1
            kill_times.append(datetime.now(UTC) + timedelta(seconds=running_shift))
            await asyncio.sleep(rng.uniform(0.2, 1.5))
            await bot.start()
            running_shift = shift
        await burst

        await ledger.wait_until_answered(timeout=120)
        expected = {("behandlingsteam", "custom"), ("kartlegge-bistandsbehov", "custom")}
        for _ in range(240):
            if {r[:2] for r in ledger.reminders_seen(kari)} >= expected:
                break
            await asyncio.sleep(0.25)
        await ingrid.command(room, "!ping", timeout=30)
        await asyncio.sleep(3)  # a doubled answer or reminder would have arrived by now
    finally:
        await bot.stop()

    counts = ledger.verify(tmp_path / "data" / "homeward.sqlite3", watcher=kari)
    print(
        f"{kills} kills: {counts}; answers committed before a kill and sent after it: "
        f"{_answers_across_kills(tmp_path / 'data' / 'homeward.sqlite3', room, kill_times)}"
    )
    assert kills >= 5 and counts["accepted"] == 90
    assert {r[:2] for r in ledger.reminders_seen(kari)} >= expected
    assert counts["plan changes"] >= 10 and counts["acks"] >= 1


def _answers_across_kills(database: Path, room_id: str, kills: list[datetime]) -> int:
    """How many answers were queued by one process and delivered by the next (for the report)."""
    import sqlite3

    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT created_at, sent_at FROM outbox WHERE room_id = ? AND sent_at IS NOT NULL", (room_id,)
        ).fetchall()
    spans = [(datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in rows]
    return sum(any(created < kill < sent for kill in kills) for created, sent in spans)


async def _hold_the_outbox(runner) -> None:
    """Fault injection: from now on this bot queues answers but sends none, as if it died first."""

    async def hold() -> bool:
        return False

    runner.bot.sender.flush = hold


async def _pending_answer(runner, event_id: str):
    for _ in range(100):
        async with runner.bot.store.read() as db:
            for row in await outbox.pending(db):
                if (row.content.get("m.relates_to") or {}).get("m.in_reply_to", {}).get("event_id") == event_id:
                    return row
        await asyncio.sleep(0.05)
    raise AssertionError("the command was not handled")


@pytest.mark.engines("sqlite", "postgresql")  # the store on both engines (tests/integration/conftest.py)
async def test_a_command_applied_but_not_answered_before_the_bot_went_down_is_answered_once_after(
    make_bot, make_member
):
    bot = await make_bot()
    anna = await make_member("anna")
    room, _ = await open_case(anna, bot, "orebro", "Sjostjerne")
    ok(await anna.command(room, f"!role {anna.user_id} slutenvard coordinator"))
    await _hold_the_outbox(bot)

    command = await anna.send(room, "!ack konsultation")
    await _pending_answer(bot, command)  # applied and committed, answer queued, nothing sent
    await bot.stop()
    await bot.start()
    answer = await anna.wait_for(lambda s: reply_target(s) == command)
    status = await anna.command(room, "!status")
    await asyncio.sleep(2)  # a second answer would have arrived by now

    ok(answer)
    assert len(anna.replies_to(command)) == 1
    assert len(item(status, "konsultation")["acks"]) == 1


async def test_an_answer_the_homeserver_took_just_before_the_bot_died_is_not_posted_twice(make_bot, make_member):
    bot = await make_bot()
    alice = await make_member("alice")
    room = await direct_room(alice, bot)
    await _hold_the_outbox(bot)

    command = await alice.send(room, "!ping")
    row = await _pending_answer(bot, command)
    # What the sender does, up to the moment it would mark the row sent: the bot "dies" there.
    first = await bot.bot.client.room_send(
        room, row.event_type, row.content, tx_id=row.txn_id, ignore_unverified_devices=True
    )
    await bot.stop()
    await bot.start()
    await alice.command(room, "!ping")  # the restarted bot has flushed its outbox by the time this is answered
    await asyncio.sleep(2)

    answers = alice.replies_to(command)
    assert [a.event_id for a in answers] == [first.event_id]  # the resend with the same transaction id was a no-op
    async with bot.bot.store.read() as db:
        results = await outbox.results(db, {row.id})
    assert results[row.id] == (True, first.event_id)
