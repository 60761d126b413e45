"""Two processes of one bot share a PostgreSQL store: one acts, the other stands by and takes over.

In-process here (two `HomewardBot`s, each its own device and data folder, one account), so
that a test can hold the acting one's outbox or cut its database off; the SIGKILL tests with
real processes are in test_standby_kill.py.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from pathlib import Path

import pytest

from homeward.bot.identity import SEEDS_FILE
from homeward.bot.lease import LEASE_S
from homeward.store import outbox
from tests.conftest import TEST_PASSWORD
from tests.harness import BotRunner, reply_target
from tests.integration.care import ok, open_case
from tests.integration.conftest import direct_room
from tests.proxy import CuttableProxy

pytestmark = pytest.mark.engines("postgresql")


async def _standby_of(make_bot, acting: BotRunner, tmp_path: Path, **overrides: object) -> BotRunner:
    """A second process of `acting`'s bot account on the same store: its own data folder and device, and the
    account's cross-signing keys copied in (as DEPLOYMENT.md says), so that its device is signed too."""
    data = tmp_path / f"standby-{len(list(tmp_path.glob('standby-*')))}"
    data.mkdir(mode=0o700)
    shutil.copy2(acting.config.data_dir / SEEDS_FILE, data / SEEDS_FILE)
    overrides.setdefault("database", acting.config.database.get_secret_value())
    return await make_bot(account=(acting.user_id, TEST_PASSWORD), data_dir=data, **overrides)


async def _die(runner: BotRunner) -> None:
    """What SIGKILL leaves: every loop stops where it is, nothing is released, the lease stays until it expires."""
    bot = runner.running
    assert bot.lease is not None
    for task in [*bot._tasks, *bot._acting_tasks]:
        task.cancel()
    await asyncio.gather(*bot._tasks, *bot._acting_tasks, return_exceptions=True)
    bot._tasks, bot._acting_tasks = [], []
    if bot.reminders:
        bot.reminders.stop()
    await bot.lease._drop_connection()
    if bot.client:
        await bot.client.close()
    if bot.store:
        await bot.store.close()
    runner.bot = None


async def _until(condition, timeout: float, what: str) -> float:
    """Seconds until `condition()` holds."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def _pending_answer(runner: BotRunner, event_id: str) -> outbox.OutboxRow:
    for _ in range(200):
        async with runner.store.read() as db:
            for row in await outbox.pending(db):
                if (row.content.get("m.relates_to") or {}).get("m.in_reply_to", {}).get("event_id") == event_id:
                    return row
        await asyncio.sleep(0.05)
    raise AssertionError("the command was not handled")


async def test_the_standby_takes_over_when_the_acting_process_dies_and_handles_what_came_meanwhile_once(
    make_bot, make_member, tmp_path, caplog
):
    caplog.set_level(logging.INFO)
    first = await make_bot()
    second = await _standby_of(make_bot, first, tmp_path)
    anna = await make_member("anna")
    room, _ = await open_case(anna, first, "orebro", "Sjostjerne")
    ok(await anna.command(room, f"!role {anna.user_id} slutenvard coordinator"))

    await _die(first)
    died = time.monotonic()
    sent = [await anna.send(room, "!ack konsultation"), await anna.send(room, "!ping")]  # to nobody, for now
    for event_id in sent:
        await anna.wait_for(lambda s, e=event_id: reply_target(s) == e, timeout=LEASE_S + 20)
    took = time.monotonic() - died
    status = await anna.command(room, "!status")
    await asyncio.sleep(2)

    assert second.running.acting and first.bot is None
    assert [len(anna.replies_to(e)) for e in sent] == [1, 1]  # answered once, by the one that took over
    assert len(next(i for i in status.content["homeward.case"]["items"] if i["id"] == "konsultation")["acks"]) == 1
    assert took < LEASE_S + 10
    assert any("acts now" in r.getMessage() and "stopped renewing" in r.getMessage() for r in caplog.records)


async def test_a_clean_stop_hands_over_at_once(make_bot, make_member, tmp_path):
    first = await make_bot()
    second = await _standby_of(make_bot, first, tmp_path)
    alice = await make_member("alice")
    room = await direct_room(alice, first)
    await alice.command(room, "!ping")

    await first.stop()  # releases the lease
    took = await _until(lambda: second.running.acting, timeout=LEASE_S, what="the takeover")
    answer = await alice.command(room, "!ping")

    assert took < LEASE_S / 2 and answer.content["body"] == "pong"


async def test_an_answer_the_dead_process_sent_but_did_not_mark_is_not_sent_again_by_the_other_device(
    make_bot, make_member, tmp_path
):
    first = await make_bot()
    second = await _standby_of(make_bot, first, tmp_path)
    alice = await make_member("alice")
    room = await direct_room(alice, first)

    async def hold() -> bool:
        return False

    first.running.sender.flush = hold  # queues answers, sends none
    sent_then_died = await alice.send(room, "!ping")
    never_sent = await alice.send(room, "!ping")
    row = await _pending_answer(first, sent_then_died)
    await _pending_answer(first, never_sent)
    # What the first process's sender does up to the moment it would mark the row sent: then it dies.
    content = {**row.content, outbox.MARKER_KEY: row.marker}
    response = await first.running.client.room_send(
        room, row.event_type, content, tx_id=row.txn_id, ignore_unverified_devices=True
    )
    await _die(first)

    await alice.wait_for(lambda s: reply_target(s) == never_sent, timeout=LEASE_S + 20)
    await alice.command(room, "!ping")  # the second process has flushed what was pending by now
    await asyncio.sleep(2)

    assert [a.event_id for a in alice.replies_to(sent_then_died)] == [response.event_id]
    assert len(alice.replies_to(never_sent)) == 1
    async with second.store.read() as db:
        assert (await outbox.results(db, {row.id}))[row.id] == (True, response.event_id)


async def test_a_process_cut_off_from_the_database_stops_sending_before_its_lease_ends(
    make_bot, make_member, tmp_path, postgres
):
    url = postgres.fresh_url(migrated=True)
    proxy = CuttableProxy("127.0.0.1", postgres.port)
    await proxy.start()
    try:
        behind_proxy = url.replace(f":{postgres.port}/", f":{proxy.port}/")
        first = await make_bot(database=behind_proxy)
        second = await _standby_of(make_bot, first, tmp_path, database=url)
        alice = await make_member("alice")
        room = await direct_room(alice, first)
        await alice.command(room, "!ping")

        sends: list[float] = []
        original = first.running.client.room_send

        async def counted(*args, **kwargs):
            sends.append(time.monotonic())
            return await original(*args, **kwargs)

        first.running.client.room_send = counted
        await proxy.cut()
        cut = time.monotonic()
        commands = [await alice.send(room, "!ping") for _ in range(3)]
        for event_id in commands:
            await alice.wait_for(lambda s, e=event_id: reply_target(s) == e, timeout=LEASE_S + 20)
        await asyncio.sleep(2)

        assert second.running.acting and not first.running.acting
        assert [len(alice.replies_to(e)) for e in commands] == [1, 1, 1]  # each answered once, by the second
        assert all(at < cut + LEASE_S for at in sends)  # the first sent nothing once its lease could have been taken
    finally:
        await proxy.stop()
