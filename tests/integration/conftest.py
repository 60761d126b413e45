"""Fixtures for tests that talk to Homeward through the real homeserver.

The bots run on SQLite unless the test runs on both engines: marked
`@pytest.mark.engines("sqlite", "postgresql")`, or every test when the environment says
`HOMEWARD_TEST_ENGINES=sqlite,postgresql` (the whole suite on both, twice the time).
"""

from __future__ import annotations

import asyncio
import os
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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "engines(*names): run the test with its bots on each of these store engines")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "bot_engine" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("engines")
    wanted = [e.strip() for e in os.environ.get("HOMEWARD_TEST_ENGINES", "").split(",") if e.strip()]
    engines = list(marker.args) if marker else wanted or ["sqlite"]
    if wanted and marker:
        engines = [e for e in engines if e in wanted] or engines
    metafunc.parametrize("bot_engine", engines, indirect=True, ids=[f"bot-{e}" for e in engines])


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
        # Tests drive one person's commands faster than anyone types: the brake on all of a person's
        # commands is off unless a test sets it (tests/integration/test_parallel_sending.py does).
        "rate_limits": {"*": "off"},
    }
    values.update(settings)
    return Config.model_validate(values)


@pytest.fixture
def bot_engine(request: pytest.FixtureRequest) -> str:
    """The store engine of the bots `make_bot` starts (see the module's docstring)."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def bot_database(bot_engine: str, request: pytest.FixtureRequest) -> str:
    """The `database` setting of this test's bots: "sqlite", or a store of its own on the session's PostgreSQL."""
    if bot_engine == "postgresql":
        return str(request.getfixturevalue("postgres").fresh_url(migrated=True))
    return "sqlite"


@pytest.fixture
async def make_bot(synapse: LocalSynapse, new_user, tmp_path: Path, bot_database: str) -> AsyncIterator[MakeBot]:
    """Start a Homeward bot with its own account and data folder: `runner = await make_bot()`.

    `account=(user_id, password)`: a second process of an existing bot account (its own data
    folder and device; give it the same `database` to share the store).
    """
    runners: list[BotRunner] = []

    async def make(
        clock: Clock | None = None, account: tuple[str, str] | None = None, **overrides: object
    ) -> BotRunner:
        user_id, password = account or await new_user(prefix="homeward")
        settings: dict[str, object] = {"database": bot_database, "user_id": user_id, "password": password, **overrides}
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
