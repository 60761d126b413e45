"""The bot's device is cross-signed by its own identity, which is never replaced behind anyone's back.

What other members' clients see is read from the homeserver as another user would
(`/keys/query`), and every signature is checked with signedjson (Synapse's library),
not with the code under test.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import stat
import sys
from pathlib import Path

from signedjson.key import decode_verify_key_bytes
from signedjson.sign import verify_signed_json

from homeward.bot.identity import PENDING_FILE, load_seeds, seeds_path
from homeward.bot.store_key import known_key
from homeward.matrix.cross_signing import Seeds, from_unpadded_b64
from tests.conftest import TEST_PASSWORD
from tests.integration.conftest import direct_room


async def keys_of(member, user_id: str) -> dict:
    """The cross-signing keys and devices of `user_id`, as `member`'s client gets them."""
    client = member.client
    response = await client.send(
        "POST",
        "/_matrix/client/v3/keys/query",
        json.dumps({"device_keys": {user_id: []}}),
        {"Authorization": f"Bearer {client.access_token}", "Content-Type": "application/json"},
    )
    assert response.status == 200
    return await response.json()


def only_key(obj: dict) -> str:
    (public,) = obj["keys"].values()
    return public


def signed_by(obj: dict, user_id: str, public: str) -> bool:
    try:
        verify_signed_json(obj, user_id, decode_verify_key_bytes("ed25519:" + public, from_unpadded_b64(public)))
    except Exception:
        return False
    return True


def device_signed_by_own_identity(keys: dict, user_id: str, device_id: str) -> bool:
    """The device carries the self-signing key's signature, and that key the master key's."""
    master = only_key(keys["master_keys"][user_id])
    self_signing = keys["self_signing_keys"][user_id]
    return signed_by(self_signing, user_id, master) and signed_by(
        keys["device_keys"][user_id][device_id], user_id, only_key(self_signing)
    )


def saved_seeds(config, user_id: str) -> Seeds:
    """The seeds as the bot saved them: sealed with its store key (issue 23), opened with it."""
    seeds = load_seeds(seeds_path(config.data_dir), user_id, known_key(config.crypto_dir, None))
    assert seeds is not None
    return seeds


async def test_the_bot_cross_signs_its_device_at_first_start_and_keeps_its_identity_on_restart(make_bot, make_member):
    bot = await make_bot()
    alice = await make_member("alice")
    first = await keys_of(alice, bot.user_id)
    seeds = saved_seeds(bot.config, bot.user_id)
    await bot.stop()
    await bot.start()
    again = await keys_of(alice, bot.user_id)

    assert only_key(first["master_keys"][bot.user_id]) == seeds.public("master")
    assert device_signed_by_own_identity(first, bot.user_id, bot.bot.client.device_id)
    assert stat.S_IMODE(seeds_path(bot.config.data_dir).stat().st_mode) == 0o600
    assert again["master_keys"] == first["master_keys"] and again["self_signing_keys"] == first["self_signing_keys"]


async def test_a_new_device_after_a_lost_store_is_signed_by_the_same_identity(make_bot, make_member):
    bot = await make_bot()
    alice = await make_member("alice")
    room = await direct_room(alice, bot)
    old_device = bot.bot.client.device_id
    master = (await keys_of(alice, bot.user_id))["master_keys"][bot.user_id]
    await bot.stop()
    shutil.rmtree(bot.config.crypto_dir)

    await bot.start()
    answer = await alice.command(room, "!ping")
    keys = await keys_of(alice, bot.user_id)

    assert bot.bot.client.device_id != old_device and answer.content["body"] == "pong"
    assert keys["master_keys"][bot.user_id] == master  # no identity reset
    assert device_signed_by_own_identity(keys, bot.user_id, bot.bot.client.device_id)


async def test_lost_seeds_never_replace_the_identity_the_bot_goes_on_unsigned_and_says_why(
    make_bot, make_member, caplog
):
    bot = await make_bot()
    alice = await make_member("alice")
    room = await direct_room(alice, bot)
    master = (await keys_of(alice, bot.user_id))["master_keys"][bot.user_id]
    await bot.stop()
    seeds_path(bot.config.data_dir).unlink()
    shutil.rmtree(bot.config.crypto_dir)  # and a new device, which nothing can sign now
    caplog.set_level(logging.ERROR, logger="homeward.bot.session")

    await bot.start()
    answer = await alice.command(room, "!ping")
    keys = await keys_of(alice, bot.user_id)

    assert answer.content["body"] == "pong"
    assert keys["master_keys"][bot.user_id] == master
    assert not device_signed_by_own_identity(keys, bot.user_id, bot.bot.client.device_id)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any("homeward reset-identity" in m and "not in" in m for m in errors), errors
    assert not seeds_path(bot.config.data_dir).exists()


async def reset_identity(config_path: Path, password: str) -> tuple[int, str]:
    """`homeward reset-identity --config FILE`, the password typed on its standard input."""
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("homeward")),
        "reset-identity",
        "--config",
        str(config_path),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate((password + "\n").encode()), 60)
    return process.returncode or 0, out.decode()


async def test_reset_identity_asks_for_the_password_and_replaces_the_keys_signing_the_device(
    make_bot, make_member, tmp_path
):
    bot = await make_bot()
    alice = await make_member("alice")
    old = await keys_of(alice, bot.user_id)
    config = bot.config
    config_path = tmp_path / "homeward.toml"
    config_path.write_text(
        f'homeserver = "{config.homeserver}"\nuser_id = "{config.user_id}"\ndata_dir = "{config.data_dir}"\n'
        'password = "only-for-the-bot-not-for-the-reset"\n'
    )
    await bot.stop()

    refused, refused_out = await reset_identity(config_path, "wrong-password")
    after_refusal = await keys_of(alice, bot.user_id)
    code, out = await reset_identity(config_path, TEST_PASSWORD)  # the replacement needs the password (UIA)
    new = await keys_of(alice, bot.user_id)
    await bot.start()  # a later start finds its identity in place

    assert refused == 1 and "password" in refused_out and after_refusal["master_keys"] == old["master_keys"]
    assert code == 0, out
    assert "identity was reset" in out  # the warning, before the password was asked
    assert new["master_keys"] != old["master_keys"]
    new_master = only_key(new["master_keys"][bot.user_id])
    assert saved_seeds(config, bot.user_id).public("master") == new_master
    assert device_signed_by_own_identity(new, bot.user_id, bot.bot.client.device_id)
    assert (await keys_of(alice, bot.user_id))["master_keys"] == new["master_keys"]
    assert not (config.data_dir / PENDING_FILE).exists()


async def test_a_bot_with_only_an_access_token_sets_up_its_identity_without_a_password(make_bot, make_member, new_user):
    from nio import AsyncClient, AsyncClientConfig, LoginResponse

    user_id, password = await new_user(prefix="homeward")
    alice = await make_member("alice")
    login = AsyncClient(alice.client.homeserver, user_id, config=AsyncClientConfig(encryption_enabled=False))
    response = await login.login(password, device_name="Homeward")
    assert isinstance(response, LoginResponse)
    await login.close()

    bot = await make_bot(user_id=user_id, password=None, access_token=response.access_token)
    keys = await keys_of(alice, bot.user_id)

    assert device_signed_by_own_identity(keys, bot.user_id, response.device_id)  # first upload: no auth asked (MSC3967)
