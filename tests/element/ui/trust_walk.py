"""A walk beside `make screenshots`: a nurse's verified and unverified logins in Element Web, as the bot trusts them.

Not a test and not part of `make screenshots`: it shows what issue 22 changed for people. A fresh
local Synapse, the bot in this process (`device_trust` at its default, "cross-signed"), the
coordinator as a matrix-nio client that opens a case and invites the nurse, and the nurse in
Element Web (trust_walk.mjs, headless Chromium): her first login with recovery set up; a second
login verified with the recovery key; a login nobody verified in an Element without *exclude
insecure devices*; one with it. Screenshots and a JSON summary of what each login read.

    EW_DRIVER=~/.cache/ew-driver/element.mjs .venv/bin/python tests/element/ui/trust_walk.py --out /tmp/trust-walk

EW_DRIVER: the Element driver library of ../shared/element-web/driver, copied and `npm ci`-ed
(see its README).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

from screenshots import DEFAULT_ELEMENT, find_chromium, serve  # type: ignore[import-not-found]  # noqa: E402

LABEL = "Sjöstjärna"


async def walk(out: Path, work: Path, driver: str) -> dict:
    from homeward.bot.app import HomewardBot
    from homeward.config import Config
    from homeward.dev.synapse import LocalSynapse, free_port
    from tests.harness import Member
    from tests.integration.care import ok, open_case

    synapse = LocalSynapse(work / "synapse", port=free_port())
    await synapse.start()
    web, element_url = serve(Path(os.environ.get("ELEMENT_WEB_DIR", DEFAULT_ELEMENT)).resolve())
    bot = anna = None
    try:
        password = secrets.token_urlsafe(12)
        bot_id = await synapse.register("homeward", password, displayname="Homeward")
        anna_id = await synapse.register("coordinator", password, displayname="Anna Koordinator")
        sara_id = await synapse.register("nurse", password, displayname="Sara Sjuksköterska")
        config = Config.model_validate(
            {
                "homeserver": synapse.url,
                "user_id": bot_id,
                "password": password,
                "data_dir": work / "bot",
                "allowed_inviters": [f"*:{synapse.server_name}"],
                "case_openers": [anna_id],
                "timezone": "Europe/Stockholm",
                "language": "sv",
            }
        )
        bot = HomewardBot(config)
        await bot.start()
        await asyncio.wait_for(bot.ready.wait(), 60)

        class Runner:
            user_id = bot_id

        anna = await Member.login(synapse.url, anna_id, password, work / "anna")
        room, _ = await open_case(anna, Runner(), "orebro", LABEL)
        ok(await anna.command(room, f"!role {anna_id} slutenvard coordinator"))
        ok(await anna.command(room, f"!invite {sara_id} kommun"))

        settings = {
            "elementUrl": element_url,
            "homeserver": synapse.url,
            "serverName": synapse.server_name,
            "label": LABEL,
            "room": room,
            "sara": {"user": "nurse", "password": password},
            "out": str(out),
        }
        process = await asyncio.create_subprocess_exec(
            shutil.which("node") or "node",
            str(HERE / "trust_walk.mjs"),
            cwd=HERE,
            env={
                **os.environ,
                "TRUST_WALK": json.dumps(settings),
                "EW_DRIVER": driver,
                "CHROMIUM": find_chromium() or "",
            },
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        assert process.stdout and process.stdin
        last = ""
        while True:
            raw = await asyncio.wait_for(process.stdout.readline(), 900)
            if not raw:
                break
            line = raw.decode(errors="replace").rstrip()
            if line.startswith("@@anna "):
                answer = await anna.command(room, line.split(" ", 1)[1])
                process.stdin.write(b"ok\n" if answer.content.get("homeward.status") == "ok" else b"refused\n")
                await process.stdin.drain()
            elif line.startswith("{"):
                last = line
            else:
                print("  " + line, flush=True)
        await process.wait()
        return json.loads(last) if last else {"ok": False, "error": "no summary"}
    finally:
        if anna is not None:
            await anna.close()
        if bot is not None:
            await bot.stop()
        web.shutdown()
        await synapse.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(tempfile.mkdtemp(prefix="trust-walk-")))
    args = parser.parse_args()
    driver = os.environ.get("EW_DRIVER", str(Path.home() / ".cache" / "ew-driver" / "element.mjs"))
    work = Path(tempfile.mkdtemp(prefix="trust-walk-work-"))
    try:
        summary = asyncio.run(walk(args.out.resolve(), work, driver))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(summary, indent=1, ensure_ascii=False))
    return 0 if summary.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
