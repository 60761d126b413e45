"""Two `homeward run` processes of one bot on one PostgreSQL store, for the SIGKILL takeover test and its benchmark.

Each process has its own data folder (its own device, the account's cross-signing keys copied
in, as DEPLOYMENT.md says) and the same configuration otherwise. `acting()` asks the
database which one holds the lease; `kill_acting()` SIGKILLs it and starts it again, as a
supervisor would, so that it stands by.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import psycopg

from homeward.bot.identity import SEEDS_FILE
from tests.harness import BotProcess


def write_config(path: Path, homeserver: str, server_name: str, user_id: str, password: str, **extra: object) -> None:
    lines = [
        f'homeserver = "{homeserver}"',
        f'user_id = "{user_id}"',
        f'password = "{password}"',
        f'allowed_inviters = ["*:{server_name}"]',
        f'case_openers = ["*:{server_name}"]',
        'language = "en"',
        'log_level = "INFO"',
        'rate_limits = { "*" = "off" }',  # every command must be answered: exactly once is tested, not the brake
    ]
    for key, value in extra.items():
        lines.append(f"{key} = {value!r}".replace("'", '"') if isinstance(value, str) else f"{key} = {value}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


class Pair:
    """Processes `a` and `b` (BotProcess) sharing `database`; their folders under `base`."""

    def __init__(self, base: Path, homeserver: str, server_name: str, user_id: str, password: str, database: str):
        self.base = base
        self.database = database
        self.settings = (homeserver, server_name, user_id, password)
        self.processes: dict[str, BotProcess] = {}
        self.kills = 0
        self._starts: dict[str, int] = {}  # process → its start count before it was started again

    def _config(self, name: str, **extra: object) -> Path:
        homeserver, server_name, user_id, password = self.settings
        path = self.base / f"{name}.toml"
        write_config(
            path, homeserver, server_name, user_id, password, data_dir=f"data-{name}", database=self.database, **extra
        )
        return path

    async def start(self, **extra: object) -> None:
        """`a` first (it acts and creates the account's cross-signing identity), then `b` with the keys copied."""
        self.extra = extra
        self.processes["a"] = BotProcess(self._config("a", **extra), self.base / "a.log")
        await self.processes["a"].start()
        seeds = self.base / "data-a" / SEEDS_FILE
        for _ in range(600):
            if seeds.exists() and await self.acting() == "a":
                break
            await asyncio.sleep(0.1)
        (self.base / "data-b").mkdir(mode=0o700, exist_ok=True)
        shutil.copy2(seeds, self.base / "data-b" / SEEDS_FILE)
        self.processes["b"] = BotProcess(self._config("b", **extra), self.base / "b.log")
        self._starts["b"] = 0
        await self.processes["b"].start()
        # Up before anyone writes to the bot: a member's client shares its room keys with the devices it knows
        # when it sends, and a device it does not know yet could not read what it was sent meanwhile.
        await self.wait_started()

    def rewrite(self, **extra: object) -> None:
        """Change the configuration of both (read at their next start)."""
        self.extra = {**self.extra, **extra}
        for name in self.processes:
            self._config(name, **self.extra)

    async def acting(self) -> str | None:
        """Which process holds a live lease (by its process id), if one does."""
        with psycopg.connect(self.database, autocommit=True) as db:
            row = db.execute(
                "SELECT holder FROM lease WHERE name = 'acting'"
                " AND expires_ms > (extract(epoch from clock_timestamp()) * 1000)::bigint"
            ).fetchone()
        if row is None:
            return None
        pid = int(row[0].split(":")[1])
        return next((n for n, p in self.processes.items() if p.process and p.process.pid == pid), None)

    async def kill_acting(self, restart_after: float = 0.5) -> str:
        """SIGKILL the process that acts; start it again (it stands by once started: `wait_started`). Which one."""
        name = await self.acting()
        assert name is not None, "no process acts"
        await self.processes[name].kill()
        self.kills += 1
        await asyncio.sleep(restart_after)
        self._starts[name] = self._started(name)
        await self.processes[name].start()
        return name

    def _started(self, name: str) -> int:
        """How many times the process has logged that it started."""
        try:
            return self.processes[name].log_path.read_text(errors="replace").count("started as device")
        except OSError:
            return 0

    async def wait_started(self, timeout: float = 120) -> None:
        """Until every process started again by `kill_acting` is up (syncing, standing by or acting)."""
        deadline = asyncio.get_running_loop().time() + timeout
        for name, before in list(self._starts.items()):
            while self._started(name) <= before:
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(f"process {name} did not start again within {timeout} s")
                await asyncio.sleep(0.2)
            del self._starts[name]

    async def stop(self) -> None:
        for process in self.processes.values():
            await process.stop()
