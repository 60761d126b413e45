"""`make run`: a local Synapse, demo accounts and the bot, with nothing to set up by hand.

Everything lives under one folder (`.dev/` by default): the homeserver's config and
database, the bot's config and data, and the demo accounts' passwords. Running it again
reuses all of it, so rooms and cases survive a restart.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
from pathlib import Path

from homeward.config import load_config
from homeward.dev.synapse import LocalSynapse

log = logging.getLogger(__name__)

BOT_LOCALPART = "homeward"
#: The demo's staff: who may open a case (`case_openers`); the guardian may not.
STAFF = ("coordinator", "nurse", "caseofficer")
DEMO_ACCOUNTS = {
    "coordinator": "Care coordinator (koordinator / samordnare)",
    "nurse": "Hospital nurse (sykepleier / sjuksköterska)",
    "caseofficer": "Municipal case officer (saksbehandler / handläggare)",
    "guardian": "Guardian (foresatt / vårdnadshavare)",
}


def _accounts(base: Path) -> dict[str, str]:
    """Passwords of the bot and demo users, made once and kept in an owner-only file."""
    path = base / "demo-accounts.json"
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    accounts = {name: secrets.token_urlsafe(9) for name in [BOT_LOCALPART, *DEMO_ACCOUNTS]}
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(accounts, handle, indent=2)
    return accounts


def _case_openers(server: LocalSynapse) -> str:
    return "case_openers = [" + ", ".join(f'"{server.user_id(name)}"' for name in STAFF) + "]\n"


def _write_bot_config(base: Path, server: LocalSynapse, password: str) -> Path:
    path = base / "homeward.toml"
    if path.exists() and "case_openers" not in path.read_text(encoding="utf-8"):
        # A demo made before `case_openers` existed: its staff may still open cases.
        with path.open("a", encoding="utf-8") as handle:
            handle.write("# Who may open a case (added by a newer `make run`).\n" + _case_openers(server))
    if not path.exists():
        path.write_text(
            "# Homeward's configuration for the local demo (made by `make run`; edit freely).\n"
            f'homeserver = "{server.url}"\n'
            f'user_id = "{server.user_id(BOT_LOCALPART)}"\n'
            f'password = "{password}"\n'
            'device_name = "Homeward"\n'
            'data_dir = "bot"\n'
            f'allowed_inviters = ["*:{server.server_name}"]\n' + _case_openers(server) + 'timezone = "Europe/Oslo"\n'
            'language = "en"\n'
            "encryption = true\n",
            encoding="utf-8",
        )
        os.chmod(path, 0o600)
    return path


def _instructions(server: LocalSynapse, accounts: dict[str, str], bot_id: str) -> str:
    width = max(len(n) for n in DEMO_ACCOUNTS)
    rows = "\n".join(
        f"    {server.user_id(name):<{width + len(server.server_name) + 3}}  password: {accounts[name]:<14} {role}"
        for name, role in DEMO_ACCOUNTS.items()
    )
    return f"""
================================================================================
 Homeward is running.

 Homeserver:  {server.url}
 Bot:         {bot_id}

 Demo accounts:
{rows}

 The staff accounts ({", ".join(STAFF)}) may open cases (case_openers in
 {server.config_path.parent.parent / "homeward.toml"}); the guardian may not.

 Log in with Element (Element Desktop, or Element Web in a browser on this machine):
   1. "Sign in" → "Edit" next to the homeserver → enter {server.url}
   2. user name e.g. coordinator, and the password above.
   3. Start a chat with {bot_id} and write  !ping  (the room is encrypted).
      Write  !help  to see the commands. Prefer "!" to "/": Element asks before
      sending a /command it does not know.

 State is kept in {server.config_path.parent.parent}; run `make run` again to reuse it.
 Stop with Ctrl-C.
================================================================================
"""


async def run_demo(base: Path, port: int) -> int:
    """Start (or reuse) the local homeserver, register accounts, run the bot until Ctrl-C."""
    from homeward.bot.app import HomewardBot

    base.mkdir(parents=True, exist_ok=True, mode=0o700)
    server = LocalSynapse(base / "synapse", port=port)
    log.info("starting the local Synapse on %s (first start generates its config)", server.url)
    await server.start()
    try:
        accounts = _accounts(base)
        bot_id = await server.register(BOT_LOCALPART, accounts[BOT_LOCALPART], displayname="Homeward")
        for name in DEMO_ACCOUNTS:
            await server.register(name, accounts[name], displayname=name.capitalize())
        config = load_config(_write_bot_config(base, server, accounts[BOT_LOCALPART]))
        bot = HomewardBot(config)
        await bot.start()
        await asyncio.wait_for(bot.ready.wait(), 60)
        print(_instructions(server, accounts, bot_id), flush=True)
        try:
            await bot.wait()
        finally:
            await bot.stop()
    except asyncio.CancelledError:
        pass
    finally:
        log.info("stopping the local Synapse")
        await server.stop()
    return 0
