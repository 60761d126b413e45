"""Element compatibility: the bot driven from matrix-js-sdk with its Rust crypto.

Element is built on matrix-js-sdk; tests/element/driver.mjs plays an Element user in Node
(`make test` installs its pinned modules). Everything else in the suite talks through
matrix-nio, so this is the one place where another crypto implementation reads the bot.
The Element user has *exclude insecure devices* on (a hospital will turn it on): it shares
room keys only with cross-signed devices and decrypts only their messages, so the bot is
heard and read only because its device carries its identity's signature (bot/identity.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path

import pytest

from tests.integration.care import ok, open_case

ELEMENT_DIR = Path(__file__).resolve().parents[1] / "element"
DRIVER = ELEMENT_DIR / "driver.mjs"
DRIVER_TIMEOUT = 50.0

#: Node missing: the tests that run Element's code are skipped on a developer's machine, but not under CI
#: (`CI` set, as .ci/run sets it), where the machine has Node and its absence fails the run, as PostgreSQL's does.
NEEDS_NODE = pytest.mark.skipif(
    shutil.which("node") is None and not os.environ.get("CI"),
    reason="node is not installed: the tests that run Element's code (matrix-js-sdk) need Node 20+",
)
pytestmark = NEEDS_NODE


def require_node_modules() -> None:
    """Node is there (else the module is skipped); its modules must be too: `make test` installs them."""
    if not (ELEMENT_DIR / "node_modules" / "matrix-js-sdk").is_dir():
        pytest.fail("tests/element/node_modules is missing: run `make test` (it runs `npm ci` in tests/element)")


async def run_driver(
    homeserver: str, user_id: str, password: str, room_id: str, ack_item: str, bot_user_id: str, bot_device_id: str
) -> dict:
    """Run the Node driver; its one stdout line is what the Element user saw, as JSON."""
    process = await asyncio.create_subprocess_exec(
        shutil.which("node") or "node",
        str(DRIVER),
        homeserver,
        user_id,
        room_id,
        ack_item,
        bot_user_id,
        bot_device_id,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "ELEMENT_PASSWORD": password},
        cwd=ELEMENT_DIR,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), DRIVER_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        pytest.fail(f"the Element driver did not finish within {DRIVER_TIMEOUT} s")
    lines = out.decode(errors="replace").strip().splitlines()
    try:
        result = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        result = {"stdout": lines[-5:]}
    if process.returncode != 0 or not result.get("ok"):
        log = "\n".join(err.decode(errors="replace").splitlines()[-40:])
        pytest.fail(
            f"Element driver failed (exit {process.returncode}): {json.dumps(result, indent=1)[:4000]}\n"
            f"--- stderr (tail) ---\n{log}"
        )
    print(json.dumps(result, ensure_ascii=False))  # shown with -s, or when the test fails
    return result


async def test_an_element_user_excluding_insecure_devices_reads_the_bots_answers_and_checklist_edit_without_a_warning(
    synapse, make_bot, make_member, new_user
):
    require_node_modules()
    bot = await make_bot()
    anna = await make_member("anna")
    room, _ = await open_case(anna, bot, "orebro", "Sjostjerne")
    element_user, password = await new_user(prefix="element")
    # Like bring_in, but the Element user accepts the invite from its own client.
    ok(await anna.command(room, f"!invite {element_user} slutenvard"))
    await anna.wait_for_membership(room, element_user, "invite")

    seen = await run_driver(
        synapse.url, element_user, password, room, "konsultation", bot.user_id, bot.bot.client.device_id
    )

    assert seen["own_command_wire_type"] == "m.room.encrypted"
    # Exclude insecure devices was on, and still the bot read both commands and was read:
    # its device is cross-signed by its owner, and none of its messages carries a shield.
    assert seen["isolation_mode"] == 1  # DeviceIsolationModeKind.OnlySignedDevicesIsolationMode
    assert seen["bot_device"]["signed_by_owner"] is True
    assert seen["shields"] == {
        name: {"colour": 0, "reason": None} for name in ("status", "ack", "edit")
    }  # EventShieldColour.NONE
    # Answers and the checklist edit never notify (Element's push rules on the decrypted events).
    assert seen["pushes"] == {name: {"notify": False, "highlight": False} for name in ("status", "ack", "edit")}
    for answer in (seen["status"], seen["ack"], seen["edit"]):
        assert answer["sender"] == bot.user_id
        assert answer["wire_type"] == "m.room.encrypted" and answer["decrypted"], answer
    status, ack, edit = (seen[k]["content"] for k in ("status", "ack", "edit"))
    assert status["msgtype"] == "m.notice" and status["homeward.status"] == "ok"
    assert status["format"] == "org.matrix.custom.html"  # what Element renders
    assert status["homeward.case"]["pathway"] == "orebro"
    assert ack["homeward.status"] == "ok" and ack["homeward.item"] == "konsultation"
    assert ack["homeward.lane"] == "slutenvard"
    new_checklist = edit["m.new_content"]
    assert new_checklist["homeward.checklist"] == "identifiering"
    assert "☑ `konsultation`" in new_checklist["body"] and element_user in new_checklist["body"]
    # The message the edit applies to is in the Element user's own timeline (the bot posted the
    # checklist again when they joined): Element shows edits only on their original.
    assert seen["checklist_original"]["in_timeline"], seen["checklist_original"]
    # Nothing the bot sent after the Element user joined was unreadable to it.
    assert [e for e in seen["undecryptable"] if e["after_join"]] == []
