"""Run Synapse + Homeward, open an Örebro case, and let a parent in Element Web answer the consent request by reply."""

import asyncio
import sys
import uuid
from pathlib import Path

sys.path.insert(0, "/work/wt-c14")
from homeward.config import Config
from homeward.dev.synapse import LocalSynapse, free_port
from tests.harness import BotRunner, Member
from tests.integration.care import ok, open_case

OUT = Path(sys.argv[1])
PREFIX = sys.argv[2]
PW = "shots-password"


async def main():
    base = Path(f"/tmp/c14/run-{uuid.uuid4().hex[:4]}")
    base.mkdir(parents=True)
    server = LocalSynapse(base / "synapse")
    await server.start()
    try:
        bot_id = await server.register("homeward", PW, displayname="Homeward")
        anna_id = await server.register("anna", PW, displayname="Anna (samordnare)")
        mor_id = await server.register("mor", PW, displayname="Mor")
        bot = BotRunner(
            Config.model_validate(
                {
                    "homeserver": server.url,
                    "user_id": bot_id,
                    "password": PW,
                    "data_dir": base / "bot",
                    "allowed_inviters": [f"*:{server.server_name}"],
                    "case_openers": [f"*:{server.server_name}"],
                    "language": "sv",
                    "timezone": "Europe/Stockholm",
                }
            )
        )
        await bot.start()
        anna = await Member.login(server.url, anna_id, PW, base / "anna")
        room, _ = await open_case(anna, bot, "orebro", "Sjostjerne")
        ok(await anna.command(room, f"!role {anna_id} oppenvard coordinator"))
        port = free_port()
        web = await asyncio.create_subprocess_exec(
            "python3",
            "-m",
            "http.server",
            str(port),
            "--bind",
            "127.0.0.1",
            "--directory",
            "/work/shared/element-web/webapp",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        node = await asyncio.create_subprocess_exec(
            "node",
            "/root/.cache/ew-c14/consent_shots.mjs",
            f"http://127.0.0.1:{port}",
            server.url,
            "mor",
            PW,
            str(OUT),
            PREFIX,
            "ja",
            "svara på det här meddelandet",
            "Samtycket är givet",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd="/root/.cache/ew-c14",
        )
        while True:
            line = (await node.stdout.readline()).decode().strip()
            print("node:", line[:300])
            if line == "READY" or not line:
                break
        ok(await anna.command(room, f"!invite {mor_id} vardnadshavare"))
        node.stdin.write((room + "\n").encode())
        await node.stdin.drain()
        out = await asyncio.wait_for(node.stdout.read(), 240)
        print(out.decode()[-6000:])
        await node.wait()
        web.terminate()
        await web.wait()
        await anna.close()
        await bot.stop()
    finally:
        await server.stop()


asyncio.run(main())
