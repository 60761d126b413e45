"""Spec of homeward.dev.synapse.LocalSynapse: the local homeserver for dev and tests."""

from __future__ import annotations

import asyncio
import socket
import uuid
from pathlib import Path

import aiohttp
import pytest
import yaml
from nio import (
    AsyncClient,
    AsyncClientConfig,
    LoginResponse,
    RoomCreateResponse,
    RoomPreset,
    RoomSendResponse,
)

from homeward.dev.synapse import LocalSynapse, SynapseStartError, free_port

# Synapse's own spec: its config generator and the server itself (left out of `make test-fast`).
pytestmark = pytest.mark.synapse

# --------------------------------------------------------------------------- config
# These run Synapse's config generator only, never the server.


def test_generated_config_is_loopback_offline_quiet_and_unthrottled(tmp_path: Path) -> None:
    port = free_port()
    server = LocalSynapse(tmp_path, port=port)
    server.ensure_config()

    cfg = yaml.safe_load(server.config_path.read_text())
    (listener,) = cfg["listeners"]
    assert listener["port"] == port
    assert listener["bind_addresses"] == ["127.0.0.1"]
    assert listener["x_forwarded"] is False
    assert cfg["trusted_key_servers"] == []
    assert cfg["enable_registration"] is False
    assert cfg["registration_shared_secret"]
    assert cfg["database"]["args"]["database"] == str(tmp_path / "homeserver.db")
    assert cfg["media_store_path"] == str(tmp_path / "media_store")
    assert cfg["presence"] == {"enabled": False}
    assert cfg["rc_message"]["burst_count"] >= 1000
    assert cfg["rc_login"]["failed_attempts"]["per_second"] >= 1000
    assert cfg["rc_invites"]["per_issuer"]["burst_count"] >= 1000
    assert cfg["rc_room_creation"]["burst_count"] >= 1000

    log_cfg = yaml.safe_load(Path(cfg["log_config"]).read_text())
    assert log_cfg["root"]["level"] == "WARNING"
    assert log_cfg["handlers"]["file"]["filename"] == str(tmp_path / "homeserver.log")


def test_existing_config_is_reused_and_only_the_port_follows_an_explicit_port(
    tmp_path: Path,
) -> None:
    LocalSynapse(tmp_path, port=free_port()).ensure_config()
    first = yaml.safe_load((tmp_path / "homeserver.yaml").read_text())

    new_port = free_port()
    moved = LocalSynapse(tmp_path, port=new_port)
    moved.ensure_config()
    second = yaml.safe_load((tmp_path / "homeserver.yaml").read_text())
    assert second["listeners"][0]["port"] == new_port
    assert second["registration_shared_secret"] == first["registration_shared_secret"]
    assert second["macaroon_secret_key"] == first["macaroon_secret_key"]

    # Without a port, a later run keeps the URL the config already has.
    assert LocalSynapse(tmp_path).url == f"http://127.0.0.1:{new_port}"


async def test_start_fails_fast_and_clearly_when_the_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        server = LocalSynapse(tmp_path, port=blocker.getsockname()[1])
        with pytest.raises(SynapseStartError, match="in use"):
            await server.start()
    assert not server.running


# ---------------------------------------------------------------- running server


async def test_server_answers_versions(synapse: LocalSynapse) -> None:
    async with aiohttp.ClientSession() as http, http.get(f"{synapse.url}/_matrix/client/versions") as resp:
        assert resp.status == 200
        assert "versions" in await resp.json()


async def test_registering_the_same_user_twice_returns_the_same_id(
    synapse: LocalSynapse,
) -> None:
    localpart = f"twice-{uuid.uuid4().hex[:8]}"
    first = await synapse.register(localpart, "pw-one")
    second = await synapse.register(localpart, "pw-two")
    assert first == second == f"@{localpart}:{synapse.server_name}"
    # The second call does not touch the existing account.
    assert await synapse.login_token(first, "pw-one")


async def test_registered_user_logs_in_with_nio_and_creates_rooms_without_429(synapse: LocalSynapse, new_user) -> None:
    user_id, password = await new_user(displayname="Nurse Test")
    # Plain client: this is about the server, not about encryption.
    client = AsyncClient(synapse.url, user_id, config=AsyncClientConfig(encryption_enabled=False))
    try:
        login = await client.login(password, device_name="test")
        assert isinstance(login, LoginResponse), login

        # Synapse's defaults allow 10 rooms and 10 messages in a burst. nio answers
        # a 429 by sleeping (about 60 s for room creation) and retrying, so a
        # throttled server shows up here as a timeout, not as an error response.
        async def burst() -> None:
            for i in range(12):
                room = await client.room_create(name=f"room {i}", preset=RoomPreset.private_chat)
                assert isinstance(room, RoomCreateResponse), room
            for i in range(15):
                sent = await client.room_send(room.room_id, "m.room.message", {"msgtype": "m.text", "body": f"#{i}"})
                assert isinstance(sent, RoomSendResponse), sent

        await asyncio.wait_for(burst(), timeout=20)
    finally:
        await client.close()


async def test_server_can_stop_and_start_again_on_the_same_port_with_its_users(
    tmp_path: Path,
) -> None:
    # A private server: stopping the session one would disturb other tests.
    server = LocalSynapse(tmp_path / "hs")
    try:
        await server.start()
        url = server.url
        user_id = await server.register("keeper", "pw")

        await server.stop()
        assert not server.running
        await server.start()
        assert server.url == url
        assert await server.login_token(user_id, "pw")

        # A crash (SIGKILL) loses nothing committed either.
        await server.kill()
        await server.start()
        assert await server.login_token(user_id, "pw")
        assert await server.register("keeper", "pw") == user_id
    finally:
        await server.stop()
    assert not server.running
