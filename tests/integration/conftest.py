"""Fixtures for tests that talk to Homeward through the real homeserver."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from homeward.clock import Clock
from homeward.config import Config
from homeward.dev.synapse import LocalSynapse
from tests.conftest import TEST_PASSWORD
from tests.harness import Account, BotRunner, Member

MakeBot = Callable[..., Awaitable[BotRunner]]
MakeMember = Callable[..., Awaitable[Member]]


def bot_config(synapse: LocalSynapse, folder: Path, **settings: object) -> Config:
    """The configuration of a test bot on the suite's Synapse; its data folder is new, under `folder`.

    `settings` (the account — `user_id`, `password` or `access_token` — and anything else) win over the defaults.
    """
    values: dict[str, object] = {
        "homeserver": synapse.url,
        "data_dir": folder / f"bot-{uuid.uuid4().hex[:6]}",
        "allowed_inviters": [f"*:{synapse.server_name}"],
        "case_openers": [f"*:{synapse.server_name}"],
        "language": "en",
        "timezone": "Europe/Oslo",
    }
    values.update(settings)
    return Config.model_validate(values)


@pytest.fixture
async def make_bot(synapse: LocalSynapse, new_user, tmp_path: Path) -> AsyncIterator[MakeBot]:
    """Start a Homeward bot with its own account and data folder: `runner = await make_bot()`."""
    runners: list[BotRunner] = []

    async def make(clock: Clock | None = None, **overrides: object) -> BotRunner:
        user_id, password = await new_user(prefix="homeward")
        settings: dict[str, object] = {"user_id": user_id, "password": password, **overrides}
        runner = BotRunner(bot_config(synapse, tmp_path, **settings), clock)
        await runner.start()
        runners.append(runner)
        return runner

    yield make
    for runner in runners:
        await runner.stop()


@pytest.fixture
async def make_member(synapse: LocalSynapse, new_user, tmp_path: Path) -> AsyncIterator[MakeMember]:
    """A logged-in care-team member with an encrypted device: `alice = await make_member()`."""
    members: list[Member] = []

    async def make(prefix: str = "member") -> Member:
        user_id, password = await new_user(prefix=prefix)
        member = await Member.login(synapse.url, user_id, password, tmp_path / f"client-{user_id[1:].split(':')[0]}")
        members.append(member)
        return member

    yield make
    for member in members:
        await member.close()


async def direct_room(member: Member, bot: Account) -> str:
    """An encrypted direct chat between a member and the bot, with the bot joined."""
    room_id = await member.create_room(invite=[bot.user_id])
    await member.wait_for_membership(room_id, bot.user_id, "join")
    for _ in range(100):  # and the member's own client has seen the join, so it shares the room key
        room = member.client.rooms.get(room_id)
        if room is not None and bot.user_id in room.users and bot.user_id not in room.invited_users:
            break
        await asyncio.sleep(0.05)
    return room_id


# -- one bot and one member for a whole module ------------------------------------------------------
# Starting a bot (login, keys, first sync) and logging a member in cost about a second each. Tests
# that only talk to the bot in a direct chat of their own, and neither restart it, change its config
# or clock, nor touch the member's devices, share these two; each still makes its own room.


@pytest.fixture(scope="module")
async def module_bot(synapse: LocalSynapse, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[BotRunner]:
    """A bot with the default test configuration, shared by the tests of one module."""
    user_id = await synapse.register(f"homeward-{uuid.uuid4().hex[:8]}", TEST_PASSWORD)
    runner = BotRunner(
        bot_config(synapse, tmp_path_factory.mktemp("module-bot"), user_id=user_id, password=TEST_PASSWORD)
    )
    await runner.start()
    yield runner
    await runner.stop()


@pytest.fixture(scope="module")
async def module_member(synapse: LocalSynapse, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Member]:
    """A member ("alice") shared by the tests of one module, for direct chats with `module_bot`."""
    user_id = await synapse.register(f"alice-{uuid.uuid4().hex[:8]}", TEST_PASSWORD)
    member = await Member.login(synapse.url, user_id, TEST_PASSWORD, tmp_path_factory.mktemp("module-member"))
    yield member
    await member.close()
