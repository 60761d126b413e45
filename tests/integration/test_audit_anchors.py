"""The record outlives the file: each case's audit chains are anchored in its encrypted room, and
`homeward verify-audit` finds a rewritten answer even when every hash after it was recomputed.

The attack the chain alone cannot show (README, "What the chain cannot do"): with the bot stopped,
someone with the database drops the triggers, rewrites a guardian's "no" as "yes", recomputes the
hash of that row and of every row after it, and puts the triggers back. The chain verifies; the
anchor the bot posted in the room, which every member's client and the homeserver hold, does not.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from homeward.store.chain import CHAINS, GENESIS, row_hash
from tests.integration.care import bring_in, ok, open_case
from tests.integration.test_audit_chain import _verify_audit


def _rewrite_and_rechain(database: Path, user_id: str) -> int:
    """Turn the person's "no" into "yes" and recompute that case's consent-answer chain from it; the row's id."""
    with sqlite3.connect(database) as raw:
        raw.row_factory = sqlite3.Row
        row = raw.execute("SELECT id, case_id FROM consent_answers WHERE user_id = ? AND answer = 'no'", (user_id,))
        row_id, case_id = row.fetchone()
        triggers = raw.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'consent_answers'"
        ).fetchall()
        for trigger in triggers:
            raw.execute(f"DROP TRIGGER {trigger['name']}")
        raw.execute("UPDATE consent_answers SET answer = 'yes' WHERE id = ?", (row_id,))
        previous = GENESIS
        for found in raw.execute("SELECT * FROM consent_answers WHERE case_id = ? ORDER BY id", (case_id,)).fetchall():
            fields = {name: found[name] for name in CHAINS["consent_answers"]}
            digest = row_hash("consent_answers", fields, previous)
            raw.execute(
                "UPDATE consent_answers SET prev_hash = ?, hash = ? WHERE id = ?", (previous, digest, found["id"])
            )
            previous = digest
        for trigger in triggers:
            raw.execute(trigger["sql"])
    return row_id


async def test_a_rewritten_answer_with_the_chain_recomputed_is_found_by_verify_audit_from_the_rooms_anchor(
    make_bot, make_member, synapse, tmp_path
):
    bot = await make_bot()
    ingrid, mor = await make_member("ingrid"), await make_member("mor")
    room, _ = await open_case(ingrid, bot, "sthf", "Kjede")
    ok(await ingrid.command(room, f"!role {ingrid.user_id} sykehus coordinator"))
    await bring_in(ingrid, room, mor, "foresatt")
    ok(await mor.command(room, "!consent no dokumentasjon"))

    # The bot anchors the case's chains in its room: a quiet notice, once a day at most.
    assert await bot.running.anchor_now() == 1
    anchor = await mor.wait_for(lambda s: s.room_id == room and "homeward.audit_anchor" in s.content)
    assert anchor.encrypted and anchor.sender == bot.user_id
    assert anchor.content["msgtype"] == "m.notice" and anchor.content["m.mentions"] == {}  # notifies nobody
    assert set(anchor.content["homeward.audit_anchor"]["chains"]) == {"audit", "consent_answers"}
    assert await bot.running.anchor_now() == 0  # not again the same day
    config = tmp_path / "homeward.toml"
    config.write_text(
        f'homeserver = "{synapse.url}"\nuser_id = "{bot.user_id}"\npassword = "x"\n'
        f'data_dir = "{bot.config.data_dir}"\n',
        encoding="utf-8",
    )
    code, output = await _verify_audit(config)  # beside the running bot: it reads the room with a copy of its keys
    assert code == 0 and "intact" in output and "compared with 1 anchor(s) in 1 room(s)" in output, output
    await bot.stop()

    row = await asyncio.to_thread(_rewrite_and_rechain, bot.config.store_path, mor.user_id)

    code, output = await _verify_audit(config)
    assert code == 1, output
    assert "does not match its hash" not in output  # the chain itself verifies: every hash was recomputed
    assert f"consent_answers row {row} (case " in output and f"differs from the anchor {anchor.event_id}" in output
