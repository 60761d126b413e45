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
from tests.harness import Account, BotRunner, Member

MakeBot = Callable[..., Awaitable[BotRunner]]
MakeMember = Callable[..., Awaitable[Member]]


@pytest.fixture
async def make_bot(synapse: LocalSynapse, new_user, tmp_path: Path) -> AsyncIterator[MakeBot]:
    """Start a Homeward bot with its own account and data folder: `runner = await make_bot()`."""
    runners: list[BotRunner] = []

    async def make(clock: Clock | None = None, **overrides: object) -> BotRunner:
        user_id, password = await new_user(prefix="homeward")
        values: dict[str, object] = {
            "homeserver": synapse.url,
            "user_id": user_id,
            "password": password,
            "data_dir": tmp_path / f"bot-{uuid.uuid4().hex[:6]}",
            "allowed_inviters": [f"*:{synapse.server_name}"],
            "case_openers": [f"*:{synapse.server_name}"],
            "language": "en",
            "timezone": "Europe/Oslo",
            # Tests drive one person's commands faster than anyone types: the brake on all of a person's
            # commands is off unless a test sets it (tests/integration/test_parallel_sending.py does).
            "rate_limits": {"*": "off"},
        }
        values.update(overrides)
        runner = BotRunner(Config.model_validate(values), clock)
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
