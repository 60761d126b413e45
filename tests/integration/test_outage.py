"""The bot rides out a homeserver that goes away and comes back."""

from __future__ import annotations

import asyncio
import logging

from tests.integration.conftest import direct_room


async def test_the_bot_reconnects_by_itself_after_the_homeserver_was_down(make_bot, make_member, synapse, caplog):
    bot = await make_bot()
    alice = await make_member("alice")
    room = await direct_room(alice, bot)
    await alice.command(room, "!ping")
    caplog.set_level(logging.INFO, logger="bot.sync")

    await synapse.stop()
    await asyncio.sleep(6)
    await synapse.start()
    answer = await alice.command(room, "!ping", timeout=60)

    assert answer.content["body"] == "pong"
    assert bot.bot.failed is None
    messages = [r.getMessage() for r in caplog.records if r.name == "bot.sync"]
    assert any("unreachable" in m for m in messages)
    assert any("reachable again" in m for m in messages)
    # Back-off, not a busy loop: a handful of attempts in six seconds.
    assert sum("unreachable" in m for m in messages) < 10
