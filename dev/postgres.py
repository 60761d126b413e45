"""A throwaway PostgreSQL server for tests and benchmarks, from the machine's own binaries.

Debian's `postgresql` package puts the server in `/usr/lib/postgresql/<version>/bin`
(`.ci/run` installs it where it is missing). PostgreSQL refuses to run as root, and the
tests and CI run as root: the cluster then belongs to an unprivileged user (`postgres`,
which the package creates; `nobody` otherwise) and `initdb`/`pg_ctl` run as that user
through `runuser`. The cluster listens on a free loopback port only (no Unix socket),
trusts every local connection (`-A trust`: a cluster that lives as long as a test session),
and, for tests, runs with `fsync = off`: what it holds is thrown away with it (`durable=True`,
for the benchmarks, keeps PostgreSQL's defaults: every commit flushed to disk, as SQLite's
`synchronous = FULL` does).

Each test takes a schema of its own (`LocalPostgres.fresh_url`): cheaper than a database
per test, and the store puts every table, trigger and function in the first schema of the
search path, so tests never see each other's rows.

Nothing prints; everything is logged under `homeward.dev.postgres`.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import logging
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

from homeward.dev.synapse import free_port

__all__ = ["LocalPostgres", "PostgresUnavailable", "postgres_bin"]

log = logging.getLogger(__name__)

_START_TIMEOUT_S = 30.0
#: The database migrated once, which `fresh_url(migrated=True)` copies.
TEMPLATE = "homeward_template"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def postgres_bin() -> Path | None:
    """The newest `/usr/lib/postgresql/<version>/bin` with `initdb` and `pg_ctl`, or `$HOMEWARD_PG_BIN`."""
    if configured := os.environ.get("HOMEWARD_PG_BIN"):
        return Path(configured)
    found = [Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin") if (Path(p) / "pg_ctl").exists()]
    found.sort(key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    return found[-1] if found else None


def _unprivileged_user() -> str | None:
    """Whom the server runs as when we are root (None: we are not root, run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise PostgresUnavailable("running as root and there is no unprivileged user (postgres, nobody) to run PostgreSQL")


def _runuser() -> str:
    """util-linux's `runuser` (Debian: /usr/sbin, which a root shell's PATH may lack in a CI image)."""
    found = shutil.which("runuser") or shutil.which("runuser", path="/usr/sbin:/sbin:/usr/bin:/bin")
    if found is None:
        raise PostgresUnavailable(
            "running as root, and util-linux's runuser is missing to start PostgreSQL as postgres"
        )
    return found


def _reachable_temp(user: str | None) -> str | None:
    """The system's temporary folder, or /tmp when the server's user could not reach into it (a `TMPDIR` under
    root's own home, mode 0700): every folder above the cluster must let others pass."""
    if user is None:
        return None
    folder = Path(tempfile.gettempdir()).resolve()
    if all(os.stat(parent).st_mode & 0o001 for parent in [folder, *folder.parents]):
        return str(folder)
    return "/tmp"


class LocalPostgres:
    """One cluster in a folder of its own under the system's temporary folder, on a free loopback port."""

    def __init__(self, port: int | None = None, durable: bool = False) -> None:
        """`durable`: fsync and synchronous commit on, as in production (the benchmarks); off for tests."""
        binaries = postgres_bin()
        if binaries is None:
            raise PostgresUnavailable(
                "no PostgreSQL server in /usr/lib/postgresql/*/bin: install Debian's postgresql package "
                "(apt-get install postgresql), or set HOMEWARD_PG_BIN"
            )
        self.bin = binaries
        self.port = port or free_port()
        self.user = _unprivileged_user()
        # Not under pytest's temporary folder: that one is root's, mode 0700, and the server's user cannot enter it.
        self.base = Path(tempfile.mkdtemp(prefix="homeward-pg-", dir=_reachable_temp(self.user)))
        self.data = self.base / "data"
        self.log_path = self.base / "server.log"
        self._started = False
        self._removing = False  # the folder is being removed in the background (stop)
        self._template_ready = False
        self.durable = durable

    @property
    def admin_url(self) -> str:
        """The cluster's default database, as its superuser (the cluster's owner)."""
        return f"postgresql://{self.superuser}@127.0.0.1:{self.port}/postgres"

    @property
    def superuser(self) -> str:
        return self.user or pwd.getpwuid(os.geteuid()).pw_name

    def url(self, database: str = "homeward", schema: str | None = None) -> str:
        """A `database` URL for Homeward: this cluster's `database`, with `schema` first on the search path."""
        base = f"postgresql://{self.superuser}@127.0.0.1:{self.port}/{database}"
        return base + (f"?options={quote(f'-csearch_path={schema}')}" if schema else "")

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.user:
            command = [_runuser(), "-u", self.user, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=False, cwd=self.base)

    def start(self) -> None:
        if self.user:
            shutil.chown(self.base, self.user)
        os.chmod(self.base, 0o700)
        made = self._run(
            "initdb", "-D", str(self.data), "-A", "trust", "-E", "UTF8", "--no-locale", "-U", self.superuser
        )
        if made.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {made.stderr.strip()[-500:]}")
        safety = "" if self.durable else "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories='' "
            f"{safety}-c max_connections=200 -c shared_buffers=64MB"
        )
        started = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log_path), "-o", options, "-w", "start")
        if started.returncode != 0:
            raise PostgresUnavailable(f"pg_ctl start failed: {started.stderr.strip()[-500:]}: {self._tail()}")
        self._started = True
        atexit.register(self.stop)
        deadline = time.monotonic() + _START_TIMEOUT_S
        while True:
            created = self._run(
                "psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.superuser, "-d", "postgres",
                "-c", "CREATE DATABASE homeward",
            )  # fmt: skip
            if created.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise PostgresUnavailable(f"the server did not accept connections: {created.stderr.strip()}")
            time.sleep(0.2)
        log.info("PostgreSQL %s on 127.0.0.1:%d (%s)", self.bin.parent.name, self.port, self.base)

    def fresh_url(self, migrated: bool = False) -> str:
        """A store of its own: a URL whose search path starts at a new empty schema; or, `migrated`, a new
        database copied from one migrated once (five times faster than migrating each)."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as admin:
            if not migrated:
                admin.execute(f"CREATE SCHEMA {name}")
                return self.url(schema=name)
            self._ensure_template(admin)
            strategy = " STRATEGY WAL_LOG" if self.version >= 15 else ""
            admin.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}{strategy}")
        return self.url(name)

    @property
    def version(self) -> int:
        return int(self.bin.parent.name) if self.bin.parent.name.isdigit() else 0

    def _ensure_template(self, admin: Any) -> None:
        if self._template_ready:
            return
        import asyncio
        import concurrent.futures

        from homeward.store.db import PostgresStore

        admin.execute(f"CREATE DATABASE {TEMPLATE}")

        async def migrate() -> None:
            store = await PostgresStore.open_url(self.url(TEMPLATE))
            await store.close()

        with concurrent.futures.ThreadPoolExecutor(1) as pool:  # the caller may be inside an event loop
            pool.submit(asyncio.run, migrate()).result()
        self._template_ready = True

    def stop(self) -> None:
        if self._started:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
            self._started = False
            # Removed in the background: a test session leaves a database per test (7.5 MB and ~500 files
            # each; 30 took 5 s to delete on the loaded test machine): nobody waits for it.
            with contextlib.suppress(OSError):
                subprocess.Popen(
                    ["rm", "-rf", "--", str(self.base)],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
                self._removing = True
        if not self._removing:
            shutil.rmtree(self.base, ignore_errors=True)

    def _tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-1500:]
        except OSError:
            return ""

    def __enter__(self) -> LocalPostgres:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
