"""Nothing readable where it should not be: the data folder, the crypto store, the log, clear-text sends.

Each test runs the real bot against the suite's Synapse with encrypted clients.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import stat
import time
from pathlib import Path

from nio import RoomMessagesResponse
from nio.store import DefaultStore

from homeward.bot.sender import NEVER_IN_CLEAR
from homeward.bot.store_key import NIO_DEFAULT_KEY, key_path
from tests.harness import Account, BotAccount, BotProcess, Member
from tests.integration.care import bring_in, ok, open_case
from tests.integration.conftest import direct_room

# What the scenario types or shows: none of it may reach the log.
LABEL = "Tranebaer"
GOAL = "Sondeernaering hjemme med pumpe"
NOTE = "Mor sover lite etter trakeostomien"
ACK_NOTE = "Hjelpemidler bestilt hos NAV"
DISPLAY_NAMES = {"ingrid": "Ingrid Sykepleiersen", "kari": "Kari Saksbehandlersen", "mor": "Hanne Morsdottir"}


async def _care_scenario(bot: Account, make_member) -> tuple[str, dict[str, Member]]:
    """Case, invites, consent, plan goal, minutes note and an acknowledgement with a note.

    All by people with display names.
    """
    people = {name: await make_member(name) for name in DISPLAY_NAMES}
    for name, member in people.items():
        await member.client.set_displayname(DISPLAY_NAMES[name])
    ingrid, kari, mor = people["ingrid"], people["kari"], people["mor"]
    room, _ = await open_case(ingrid, bot, "sthf", LABEL)
    ok(await ingrid.command(room, f"!role {ingrid.user_id} sykehus coordinator"))
    await bring_in(ingrid, room, kari, "kommunen")
    await bring_in(ingrid, room, mor, "foresatt")
    ok(await mor.command(room, "!consent yes individuell-plan"))
    ok(await ingrid.command(room, f"!plan goal {GOAL}"))
    ok(await ingrid.command(room, "!meeting new meeting1 2026-12-03 10:00"))
    ok(await kari.command(room, f"!minutes meeting1 note {NOTE}"))
    ok(await kari.command(room, f"!ack starte-saksbehandling {ACK_NOTE}"))
    ok(await ingrid.command(room, "!status"))
    return room, people


def _care_text_in(log: str) -> list[str]:
    return [text for text in (LABEL, GOAL, NOTE, ACK_NOTE, *DISPLAY_NAMES.values()) if text in log]


def _sent_rows_with_content(database: Path) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        return db.execute("SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL AND content != '{}'").fetchone()[0]


async def test_the_bot_at_debug_logs_no_care_text_and_keeps_no_sent_message(make_bot, make_member, caplog):
    caplog.set_level(logging.DEBUG)  # the root logger at DEBUG, as a test runner or a careless set-up has it
    bot = await make_bot(log_level="DEBUG")

    _room, _people = await _care_scenario(bot, make_member)

    assert "command=plan goal outcome=ok" in caplog.text  # the bot did log what happened
    assert _care_text_in(caplog.text) == []
    assert _sent_rows_with_content(bot.config.store_path) == 0


async def test_homeward_run_at_debug_logs_no_care_text(synapse, new_user, make_member, tmp_path):
    user_id, password = await new_user(prefix="homeward")
    config = tmp_path / "homeward.toml"
    config.write_text(
        f'homeserver = "{synapse.url}"\nuser_id = "{user_id}"\npassword = "{password}"\ndata_dir = "data"\n'
        f'allowed_inviters = ["*:{synapse.server_name}"]\ncase_openers = ["*:{synapse.server_name}"]\n'
        'language = "en"\nlog_level = "DEBUG"\n',
        encoding="utf-8",
    )
    process = BotProcess(config, tmp_path / "bot.log")
    await process.start()
    try:
        await _care_scenario(BotAccount(user_id), make_member)
    finally:
        await process.stop()
    log = (tmp_path / "bot.log").read_text(encoding="utf-8", errors="replace")
    assert "command=plan goal outcome=ok" in log
    assert _care_text_in(log) == []


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


async def test_an_old_data_folder_is_made_owner_only_and_its_store_re_keyed_as_the_same_device(make_bot, make_member):
    # As Homeward ≤ 0.1 left it: nio's default pickle key, the folders and files readable by others.
    bot = await make_bot(store_key=NIO_DEFAULT_KEY)
    alice = await make_member("alice")
    dm = await direct_room(alice, bot)
    assert (await alice.command(dm, "!ping")).content["body"] == "pong"
    assert bot.bot and bot.bot.client
    device = bot.bot.client.device_id
    await bot.stop()
    data = bot.config.data_dir
    crypto = data / "crypto"
    store_file = crypto / f"{bot.user_id}_{device}.db"
    for path in (data, crypto):
        os.chmod(path, 0o755)
    for path in (store_file, data / "homeward.sqlite3"):
        os.chmod(path, 0o644)
    assert not (key_path(crypto)).exists()

    bot.config.store_key = None  # the upgrade: no key configured, so one is generated
    await bot.start()

    assert bot.bot and bot.bot.client and bot.bot.client.device_id == device  # the same device
    after = await alice.command(dm, "!ping")  # decrypted and answered with the re-pickled sessions
    assert after.content["body"] == "pong" and after.encrypted
    modes = {path.relative_to(data).as_posix(): _mode(path) for path in [data, *data.rglob("*")]}
    assert {m for p, m in modes.items() if (data / p).is_dir()} == {0o700}, modes
    assert {m for p, m in modes.items() if (data / p).is_file()} == {0o600}, modes
    key = (key_path(crypto)).read_text().strip()
    for candidate, opens in ((NIO_DEFAULT_KEY, False), (key, True)):
        store = DefaultStore(bot.user_id, device, str(crypto), pickle_key=candidate)
        try:
            store.load_account()
            opened = True
        except Exception:
            opened = False
        finally:
            store.database.close()
        assert opened is opens, candidate


async def test_with_encryption_off_nothing_goes_into_an_encrypted_room(make_bot, make_member, caplog):
    bot = await make_bot(encryption=False)
    alice = await make_member("alice")
    encrypted = await alice.create_room(invite=[bot.user_id])  # an encrypted direct chat: not a care room
    plain = await alice.create_room(invite=[bot.user_id], encrypted=False)

    greeting = await alice.wait_for(
        lambda s: s.room_id == plain and s.sender == bot.user_id and s.type == "m.room.message"
    )
    assert not greeting.encrypted  # where the room is not encrypted, the bot still talks
    await alice.wait_for_membership(encrypted, bot.user_id, "join")
    deadline = time.monotonic() + 30
    while NEVER_IN_CLEAR not in caplog.text and time.monotonic() < deadline:
        await asyncio.sleep(0.1)  # the greeting for the encrypted room is given up, not sent

    assert NEVER_IN_CLEAR in caplog.text
    history = await alice.client.room_messages(encrypted, start=alice.client.next_batch, limit=50)
    assert isinstance(history, RoomMessagesResponse)
    from_bot = [e.source["type"] for e in history.chunk if e.sender == bot.user_id]
    assert "m.room.message" not in from_bot and "m.room.encrypted" not in from_bot, from_bot
