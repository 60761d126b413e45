"""The bot's device survives restarts, and recovers when its encryption store is lost."""

from __future__ import annotations

import shutil

from nio import AsyncClient, AsyncClientConfig, DevicesResponse

from homeward.bot.session import load_credentials
from homeward.bot.store_key import known_key
from tests.integration.conftest import direct_room


async def _bot_devices(bot) -> list[str]:
    client = bot.bot.client
    response = await client.devices()
    assert isinstance(response, DevicesResponse)
    return [d.id for d in response.devices]


async def test_a_restart_keeps_the_same_device(make_bot, make_member):
    bot = await make_bot()
    alice = await make_member("alice")
    room = await direct_room(alice, bot)
    device = bot.bot.client.device_id
    await bot.stop()

    await bot.start()
    answer = await alice.command(room, "!ping")

    assert bot.bot.client.device_id == device
    assert answer.encrypted and answer.content["body"] == "pong"


async def test_a_lost_encryption_store_means_a_new_device_and_the_stale_one_removed(make_bot, make_member):
    bot = await make_bot()
    alice = await make_member("alice")
    room = await direct_room(alice, bot)
    await alice.command(room, "!ping")
    old_device = bot.bot.client.device_id
    await bot.stop()
    shutil.rmtree(bot.config.crypto_dir)

    await bot.start()
    answer = await alice.command(room, "!ping")

    assert bot.bot.client.device_id != old_device
    assert answer.encrypted and answer.content["body"] == "pong"
    assert old_device not in await _bot_devices(bot)


async def test_a_replaced_encryption_store_for_the_same_device_is_detected_at_key_upload(make_bot, make_member):
    bot = await make_bot()
    alice = await make_member("alice")
    room = await direct_room(alice, bot)
    await alice.command(room, "!ping")
    old_device = bot.bot.client.device_id
    await bot.stop()
    saved = load_credentials(bot.config.credentials_path, known_key(bot.config.crypto_dir, None))
    shutil.rmtree(bot.config.crypto_dir)
    assert saved is not None
    impostor = AsyncClient(
        bot.config.homeserver,
        saved.user_id,
        store_path=str(bot.config.crypto_dir),
        config=AsyncClientConfig(encryption_enabled=True),
    )
    bot.config.crypto_dir.mkdir()
    impostor.restore_login(saved.user_id, saved.device_id, saved.access_token)  # new keys, same device id
    await impostor.close()

    await bot.start()
    answer = await alice.command(room, "!ping")

    assert bot.bot.client.device_id != old_device
    assert answer.encrypted and answer.content["body"] == "pong"
    assert old_device not in await _bot_devices(bot)
