"""A copy of `data_dir` without its store key is not a copy of the bot: the access token and the
cross-signing seeds are sealed with the key, the key sits beside `crypto/` so a backup leaves it out,
and a restore with the key given back is the same device with the same identity."""

from __future__ import annotations

import json
import shutil

import pytest
from pydantic import SecretStr

from homeward.bot.identity import load_seeds, seeds_path
from homeward.bot.session import load_credentials
from homeward.bot.store_key import KEY_FILE, StoreKeyError, key_path, store_key
from homeward.matrix.cross_signing import USAGES, unpadded_b64
from tests.harness import BotRunner
from tests.integration.conftest import direct_room


async def test_the_token_and_the_seeds_are_sealed_and_a_backup_without_the_key_restores_only_with_it(
    make_bot, make_member, tmp_path
):
    bot = await make_bot()
    alice = await make_member("alice")
    dm = await direct_room(alice, bot)
    assert (await alice.command(dm, "!ping")).content["body"] == "pong"
    data, crypto = bot.config.data_dir, bot.config.crypto_dir
    token, device = bot.running.client.access_token, bot.running.client.device_id
    key = key_path(crypto).read_text().strip()
    seeds = load_seeds(seeds_path(data), bot.user_id, key)
    assert seeds is not None
    await bot.stop()

    # Nothing secret in clear: not the token, not one seed; the key beside crypto/, not in it.
    credentials = (data / "credentials.json").read_text()
    assert token not in credentials and "access_token_sealed" in json.loads(credentials)
    sealed_seeds = seeds_path(data).read_text()
    assert not any(unpadded_b64(seeds.seed(usage)) in sealed_seeds for usage in USAGES)
    assert key_path(crypto) == data / KEY_FILE and not (crypto / KEY_FILE).exists()

    # The backup DEPLOYMENT.md asks for: everything but the key. Alone it opens nothing.
    backup = tmp_path / "backup"
    shutil.copytree(data, backup, ignore=shutil.ignore_patterns(KEY_FILE))
    assert not (backup / KEY_FILE).exists()
    assert load_credentials(backup / "credentials.json") is None
    assert load_credentials(backup / "credentials.json", "a guessed key") is None
    # Started without the key, the bot stops (naming the store), and writes no key of its own: never a new device.
    with pytest.raises(StoreKeyError, match="does not open with the key"):
        store_key(backup / "crypto", None, bot.user_id, device)
    assert not (backup / KEY_FILE).exists()

    # Restored with the key given back (here HOMEWARD_STORE_KEY): the same device, the same identity.
    restored = BotRunner(bot.config.model_copy(update={"data_dir": backup, "store_key": SecretStr(key)}))
    await restored.start()
    try:
        client = restored.running.client
        assert client is not None and client.device_id == device
        answer = await alice.command(dm, "!ping")
        assert answer.content["body"] == "pong" and answer.encrypted
        again = load_seeds(seeds_path(backup), bot.user_id, key)
        assert again is not None and again.public("master") == seeds.public("master")
    finally:
        await restored.stop()


async def test_a_token_and_seeds_an_older_homeward_wrote_in_clear_are_sealed_at_the_next_start(make_bot, make_member):
    bot = await make_bot()
    alice = await make_member("alice")
    dm = await direct_room(alice, bot)
    data, crypto = bot.config.data_dir, bot.config.crypto_dir
    device = bot.running.client.device_id
    await bot.stop()
    # As Homeward before issue 23 left them: the token and the seeds in clear, the key file inside crypto/.
    key = key_path(crypto).read_text().strip()
    saved = load_credentials(data / "credentials.json", key)
    seeds = load_seeds(seeds_path(data), bot.user_id, key)
    assert saved is not None and seeds is not None
    (data / "credentials.json").write_text(
        json.dumps(
            {
                "homeserver": saved.homeserver,
                "user_id": saved.user_id,
                "device_id": saved.device_id,
                "access_token": saved.access_token,
            }
        )
    )
    seeds_path(data).write_text(seeds.to_json())
    key_path(crypto).rename(crypto / KEY_FILE)

    await bot.start()
    assert (await alice.command(dm, "!ping")).content["body"] == "pong"
    assert bot.running.client.device_id == device  # the same device: the old token was used, then sealed
    assert saved.access_token not in (data / "credentials.json").read_text()
    assert json.loads(seeds_path(data).read_text()).get("homeward_sealed") == 1
    assert key_path(crypto).exists() and not (crypto / KEY_FILE).exists()
