"""Every room keeps moving, on a real Synapse: rooms sent in parallel, each room in order; a crash
in the middle of a parallel send loses and doubles nothing; one person's brake answers once and
never drops an acknowledgement or a consent answer.

(The same guarantees against a fake homeserver with faults, many seeds: tests/test_sender_parallel.py.)
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.harness import BotProcess, Member, reply_target
from tests.integration.care import bring_in, item, ok, open_case_in
from tests.integration.conftest import direct_room

OSLO = ZoneInfo("Europe/Oslo")


def _timeline(member: Member, room: str) -> list:
    return [s for s in member.seen if s.room_id == room]


async def test_rooms_are_sent_in_parallel_and_each_room_keeps_its_order(make_bot, make_member):
    bot = await make_bot(outbox_concurrency=4)
    anna, kari = await make_member("anna"), await make_member("kari")
    dm = await direct_room(anna, bot)

    # Three cases opened back to back: each room's creation, state, welcome, checklist and invite in parallel.
    commands = [await anna.send(dm, f"!case new sthf Par{n}") for n in range(3)]
    answers = [await anna.wait_for(lambda s, e=e: reply_target(s) == e, timeout=60) for e in commands]
    rooms = [answer.content["homeward.room_id"] for answer in answers]
    for room in rooms:
        await anna.join(room)
        await anna.wait_for(lambda s, r=room: s.room_id == r and "homeward.checklist" in s.content)
        ok(await anna.command(room, f"!role {anna.user_id} sykehus coordinator"))
        await bring_in(anna, room, kari, "kommunen")
    # In every room at once: acknowledgements back to back (each an answer and a checklist edit).
    tasks = ["behandlingsteam", "kartlegge-bistandsbehov", "starte-saksbehandling", "ressursteam"]
    sent = {room: [await anna.send(room, f"!ack {task}") for task in tasks] for room in rooms}
    for room in rooms:
        for event_id in sent[room]:
            await anna.wait_for(lambda s, e=event_id: reply_target(s) == e, timeout=60)
    statuses = [await anna.command(room, "!status") for room in rooms]
    await asyncio.sleep(2)  # the last checklist edits

    # The answers of the direct chat in the order of their commands.
    assert [reply_target(s) for s in _timeline(anna, dm) if reply_target(s) in commands] == commands
    for room, status in zip(rooms, statuses, strict=True):
        timeline = _timeline(anna, room)
        checklist = next(n for n, s in enumerate(timeline) if "homeward.checklist" in s.content)
        edits = [
            n for n, s in enumerate(timeline) if (s.content.get("m.relates_to") or {}).get("rel_type") == "m.replace"
        ]
        invites = [
            n for n, s in enumerate(timeline) if s.type == "m.room.member" and s.content.get("membership") == "invite"
        ]
        answers_in_order = [reply_target(s) for s in timeline if reply_target(s) in sent[room]]
        assert answers_in_order == sent[room]  # answers in command order
        assert edits and min(edits) > checklist  # a checklist before its edits
        assert max(invites) > checklist  # the room's creation (and what it queued) before kari's invite
        for task in tasks:
            assert item(status, task)["acks"], task
    assert bot.running.sender.most_in_flight > 1  # it did send in parallel


def _config(path: Path, synapse, user_id: str, password: str, shift: float) -> None:
    path.write_text(
        f'homeserver = "{synapse.url}"\nuser_id = "{user_id}"\npassword = "{password}"\n'
        f'data_dir = "data"\nallowed_inviters = ["*:{synapse.server_name}"]\n'
        f'case_openers = ["*:{synapse.server_name}"]\nlanguage = "en"\n'
        f'time_shift_seconds = {shift}\nlog_level = "INFO"\noutbox_concurrency = 4\n'
        'rate_limits = { "*" = "off" }\n',
        encoding="utf-8",
    )


async def _started(log: Path, times: int, timeout: float = 180.0) -> None:
    """Until the bot's log says it started `times` times (a loaded machine takes a while to import it)."""
    for _ in range(int(timeout * 10)):
        if log.exists() and log.read_text(errors="replace").count("started as device") >= times:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the bot did not start")


async def test_a_crash_in_the_middle_of_a_parallel_send_loses_and_doubles_nothing(
    synapse, new_user, make_member, tmp_path
):
    """Reminders due at one moment in six rooms; the bot is killed while they go out, twice."""
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    print(f"parallel crash test seed {seed}")
    due = datetime(2026, 12, 1, 10, 0, tzinfo=OSLO)
    user_id, password = await new_user(prefix="homeward")
    config = tmp_path / "homeward.toml"
    shift = (due - datetime.now(UTC)).total_seconds() - 600  # set up ten minutes before they come due
    _config(config, synapse, user_id, password, shift)
    bot = BotProcess(config, tmp_path / "bot.log")
    await bot.start()
    try:
        await _started(tmp_path / "bot.log", 1)
        anna = await make_member("anna")
        runner = type("Runner", (), {"user_id": user_id})()
        dm = await direct_room(anna, runner)
        rooms = []
        items = ("behandlingsteam", "kartlegge-bistandsbehov", "starte-saksbehandling")
        for n in range(6):
            room, _ = await open_case_in(anna, dm, "sthf", f"Crash{n}")
            ok(await anna.command(room, f"!role {anna.user_id} sykehus coordinator"))
            for item_id in items:
                ok(await anna.command(room, f"!remind {item_id} 2026-12-01 10:00"))
            rooms.append(room)
        await bot.stop()
        # Start again a second before they are due, and kill it while the 18 reminders go out in parallel.
        shift = (due - datetime.now(UTC)).total_seconds() - 1
        _config(config, synapse, user_id, password, shift)
        starts = (tmp_path / "bot.log").read_text(errors="replace").count("started as device")
        for _ in range(2):
            await bot.start()
            starts += 1
            await _started(tmp_path / "bot.log", starts)
            await asyncio.sleep(rng.uniform(0.5, 2.5))  # the reminders are going out
            await bot.kill()
            await asyncio.sleep(0.5)
        await bot.start()

        def reminders(room: str) -> list[str]:
            return [
                s.content["homeward.reminder"]["item"]
                for s in anna.seen
                if s.room_id == room and "homeward.reminder" in s.content
            ]

        for _ in range(600):
            if all(set(reminders(room)) >= set(items) for room in rooms):
                break
            await asyncio.sleep(0.25)
        for room in rooms:
            await anna.command(room, "!ping", timeout=30)
        await asyncio.sleep(3)  # a doubled reminder would have arrived by now
    finally:
        await bot.stop()

    for room in rooms:
        assert sorted(reminders(room)) == sorted(items), room  # each exactly once


async def test_the_brake_answers_once_and_never_drops_an_acknowledgement_or_a_consent_answer(make_bot, make_member):
    bot = await make_bot(rate_limits={"*": "6/1m"})
    anna, per, ola = await make_member("anna"), await make_member("per"), await make_member("ola")
    dm = await direct_room(anna, bot)
    room, _ = await open_case_in(anna, dm, "sthf", "Brake")
    ok(await anna.command(room, f"!role {anna.user_id} sykehus coordinator"))  # anna: 2 of 6
    await bring_in(anna, room, per, "foresatt")  # 3 of 6
    ola_dm = await direct_room(ola, bot)

    flood = [await per.send(room, "!team") for _ in range(8)]
    ack = await per.send(room, "!ack hjemreise")
    consent = await per.send(room, "!consent yes individuell-plan")
    after = await per.send(room, "!team")
    ping = await ola.command(ola_dm, "!ping")  # someone else is not held back
    ack_answer = await per.wait_for(lambda s: reply_target(s) == ack)
    consent_answer = await per.wait_for(lambda s: reply_target(s) == consent)
    await per.command(room, "!ack hjemreise")  # everything before it has been answered by now
    await asyncio.sleep(2)

    answered = [per.replies_to(event_id) for event_id in flood]
    assert [len(a) for a in answered] == [1] * 6 + [1, 0]  # six run, the seventh told, the eighth unanswered
    assert all(a[0].content["homeward.status"] == "ok" for a in answered[:6])
    told = answered[6][0]
    assert told.content["homeward.reason"] == "brake.too_many"
    assert "om 1 min" in told.content["body"]  # when to try again (a Norwegian room)
    assert ack_answer.content["homeward.command"] == "ack" and ack_answer.content["homeward.status"] == "ok"
    assert consent_answer.content["homeward.command"] == "consent yes"
    assert consent_answer.content["homeward.status"] == "ok"
    assert per.replies_to(after) == []
    assert ping.content["body"] == "pong"
    status = await anna.command(room, "!status")
    assert item(status, "hjemreise")["acks"]
