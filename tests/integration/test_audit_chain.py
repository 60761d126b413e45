"""A change made to the database behind Homeward's back shows: at start-up, to the coordinators,
in verify-audit, in the CSV.

The attack from the issue: with the bot stopped, someone with the file drops the trigger,
rewrites a guardian's "no" as "yes" in the consent answers, and puts the trigger back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import sys
from pathlib import Path

from tests.integration.care import bring_in, ok, open_case
from tests.integration.test_audit import audit_file, csv_rows, read_file


def _rewrite_no_as_yes(database: Path, user_id: str) -> int:
    """Drop the trigger, turn the person's "no" into "yes", re-create the trigger; the row's id."""
    with sqlite3.connect(database) as raw:
        (row_id,) = raw.execute(
            "SELECT id FROM consent_answers WHERE user_id = ? AND answer = 'no'", (user_id,)
        ).fetchone()
        (create,) = raw.execute("SELECT sql FROM sqlite_master WHERE name = 'consent_answers_no_update'").fetchone()
        raw.execute("DROP TRIGGER consent_answers_no_update")
        raw.execute("UPDATE consent_answers SET answer = 'yes' WHERE id = ?", (row_id,))
        raw.execute(create)
    return row_id


async def _verify_audit(config: Path) -> tuple[int, str]:
    homeward = Path(sys.executable).with_name("homeward")
    process = await asyncio.create_subprocess_exec(
        str(homeward),
        "verify-audit",
        "--config",
        str(config),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    return process.returncode or 0, (out + err).decode()


async def test_a_guardian_s_no_rewritten_as_yes_is_found_at_start_up_told_to_the_coordinators_and_by_verify_audit(
    make_bot, make_member, synapse, tmp_path, caplog
):
    bot = await make_bot()
    ingrid, mor = await make_member("ingrid"), await make_member("mor")
    room, _ = await open_case(ingrid, bot, "sthf", "Kjede")
    ok(await ingrid.command(room, f"!role {ingrid.user_id} sykehus coordinator"))
    await bring_in(ingrid, room, mor, "foresatt")
    ok(await mor.command(room, "!consent no individuell-plan"))
    config = tmp_path / "homeward.toml"
    config.write_text(
        f'homeserver = "{synapse.url}"\nuser_id = "{bot.user_id}"\npassword = "x"\n'
        f'data_dir = "{bot.config.data_dir}"\n',
        encoding="utf-8",
    )
    code, output = await _verify_audit(config)  # beside the running bot, reading only
    assert code == 0 and "intact" in output, output
    await bot.stop()

    row = _rewrite_no_as_yes(bot.config.store_path, mor.user_id)
    caplog.set_level(logging.INFO, logger="homeward")
    await bot.start()

    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any(f"consent_answers row {row} (case " in e and "does not match its hash" in e for e in errors), errors
    told = await ingrid.wait_for(lambda s: s.room_id == room and "homeward.chain_broken" in s.content)
    assert told.encrypted and told.sender == bot.user_id
    assert told.content["homeward.chain_broken"] == {"table": "consent_answers", "row": row, "reason": "changed"}
    assert told.content["m.mentions"] == {"user_ids": [ingrid.user_id]}
    assert told.content["msgtype"] == "m.text"  # an m.text: an m.notice would notify nobody (render.alert_content)
    assert f"rad {row} i samtykkesvarene" in told.content["body"]  # the room speaks Norwegian

    code, output = await _verify_audit(config)
    assert code == 1 and f"consent_answers row {row} (case " in output, output

    answer = await ingrid.command(room, "!audit")  # the bot kept running; the CSV says the chain is broken
    ok(answer)
    rows = csv_rows(await read_file(ingrid, await audit_file(ingrid, room, set())))
    head = next(r for r in rows if r["action"] == "chain.consent_answers.head")
    assert json.loads(head["details"]) == {"rows": 1, "intact": False, "first_broken_row": row}
    assert any(r["action"] == "audit.chain_broken" for r in rows)  # the telling is in the audit trail itself
