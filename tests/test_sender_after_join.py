"""What the bot posts for a newcomer waits until they joined, and a moment more.

Element with "exclude insecure devices" on refuses for good a message whose room key reached
it before it had fetched the bot's device keys (UNKNOWN_SENDER_DEVICE), which it does only
once it has joined: `make screenshots` showed a guardian's consent requests unreadable when
they went out at the moment of the join. The rule is in bot/sender.py (JOIN_SETTLE_S).
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import cast

import pytest
from nio.rooms import MatrixRoom

from homeward import clock as clocks
from homeward.bot import sender as sender_module
from homeward.bot.sender import JOIN_SETTLE_S, OutboxSender, _NotJoinedYet
from homeward.store.db import Store
from homeward.store.outbox import OutboxRow

ROOM, BOT, COORDINATOR, GUARDIAN = "!case:x", "@homeward:x", "@anna:x", "@mor:x"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(sender_module, "time", clock)
    return clock


def care_room() -> MatrixRoom:
    room = MatrixRoom(ROOM, BOT, encrypted=True)
    room.add_member(BOT, "Homeward", None)
    room.add_member(COORDINATOR, "Anna", None)
    room.add_member(GUARDIAN, "Mor", None, invited=True)
    return room


def bare_sender(room: MatrixRoom) -> OutboxSender:
    """A sender that knows the room and nothing else: it decides, it sends and stores nothing."""
    return OutboxSender(
        SimpleNamespace(rooms={ROOM: room}), cast(Store, None), cast(clocks.Clock, None), asyncio.Lock()
    )


def row(content: dict) -> OutboxRow:
    return OutboxRow(1, ROOM, "m.room.message", {"msgtype": "m.text", "body": "…", **content}, 0, room_kind="case")


async def test_a_message_for_a_newcomer_waits_for_their_join_and_then_for_their_client(clock: Clock) -> None:
    room = care_room()
    sender = bare_sender(room)
    consent_request = row({"homeward.after_join": GUARDIAN})

    with pytest.raises(_NotJoinedYet):
        await sender._resolve(consent_request)  # still invited
    room.remove_member(GUARDIAN)
    room.add_member(GUARDIAN, "Mor", None)
    with pytest.raises(_NotJoinedYet):
        await sender._resolve(consent_request)  # joined this very moment
    clock.now += JOIN_SETTLE_S - 0.1
    with pytest.raises(_NotJoinedYet):
        await sender._resolve(consent_request)
    clock.now += 0.2
    room_id, content = await sender._resolve(consent_request)

    assert room_id == ROOM and "homeward.after_join" not in content


async def test_messages_for_the_others_do_not_wait_for_a_newcomer(clock: Clock) -> None:
    room = care_room()
    room.remove_member(GUARDIAN)
    room.add_member(GUARDIAN, "Mor", None)
    sender = bare_sender(room)

    room_id, content = await sender._resolve(row({}))

    assert room_id == ROOM and content["body"] == "…"
