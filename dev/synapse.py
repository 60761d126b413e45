"""A local Synapse homeserver for development and tests.

Homeward talks to a real homeserver in its integration tests and in ``make run``:
mocking the Matrix client-server API would hide exactly the behaviour (rate limits,
room versions, key upload errors) that bites in production. This module owns the
whole life cycle of such a server:

* :meth:`LocalSynapse.ensure_config` generates a ``homeserver.yaml`` with Synapse's own
  generator once, then rewrites it *as YAML* for loopback-only, offline, quiet and
  test-friendly operation (the generated file ends with a comment without a trailing
  newline, so appending text to it would corrupt it).
* :meth:`LocalSynapse.start` / :meth:`LocalSynapse.stop` / :meth:`LocalSynapse.kill`
  run it as a child process in its own process group; stop and start can be repeated
  on the same port with the same data (outage tests).
* :meth:`LocalSynapse.register` creates users through the shared-secret admin API,
  idempotently, so re-runs of a demo do not fail.

Example (async)::

    hs = LocalSynapse(Path(".devserver"))
    async with hs:
        user_id = await hs.register("alice", "secret")

Example (sync, e.g. from a CLI)::

    with LocalSynapse(Path(".devserver"), port=8008) as hs:
        ...

Everything is logged with :mod:`logging` under ``homeward.dev.synapse``; nothing prints.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import datetime as dt
import hashlib
import hmac
import ipaddress
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
import yaml

__all__ = ["LocalSynapse", "SynapseStartError", "free_port"]

logger = logging.getLogger(__name__)

#: Name of the main config file inside ``base_dir``.
CONFIG_NAME = "homeserver.yaml"

#: Generous limits so that tests and demos never see ``429 M_LIMIT_EXCEEDED``.
_UNLIMITED: dict[str, float] = {"per_second": 1000, "burst_count": 10000}

#: Every rate limiter that Synapse 1.163 reads from the config (synapse/config/
#: ratelimiting.py). Synapse does not validate these keys: a misspelt one is silently
#: ignored and the (very low) default applies, so the names here were checked
#: against the source. Note ``rc_invites.per_issuer`` (not ``per_sender``) and
#: ``rc_room_creation`` (default: 10 rooms, then one per minute).
_RATE_LIMITS: dict[str, Any] = {
    "rc_message": _UNLIMITED,
    "rc_registration": _UNLIMITED,
    "rc_registration_token_validity": _UNLIMITED,
    "rc_login": {
        "address": _UNLIMITED,
        "account": _UNLIMITED,
        "failed_attempts": _UNLIMITED,
    },
    "rc_admin_redaction": _UNLIMITED,
    "rc_joins": {"local": _UNLIMITED, "remote": _UNLIMITED},
    "rc_joins_per_room": _UNLIMITED,
    "rc_key_requests": _UNLIMITED,
    "rc_3pid_validation": _UNLIMITED,
    "rc_invites": {
        "per_room": _UNLIMITED,
        "per_user": _UNLIMITED,
        "per_issuer": _UNLIMITED,
    },
    "rc_third_party_invite": _UNLIMITED,
    "rc_media_create": _UNLIMITED,
    "rc_presence": {"per_user": _UNLIMITED},
    "rc_delayed_event_mgmt": _UNLIMITED,
    "rc_room_creation": _UNLIMITED,
    "rc_reports": _UNLIMITED,
    "rc_user_directory": _UNLIMITED,
    "rc_profile": _UNLIMITED,
}

_START_TIMEOUT_S = 60.0
_STOP_TIMEOUT_S = 10.0
_HTTP_TIMEOUT = aiohttp.ClientTimeout(total=30)


class _NoAliasDumper(yaml.SafeDumper):
    """Write shared dicts out in full: ``&id001`` anchors confuse human readers."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


class SynapseStartError(RuntimeError):
    """Synapse did not come up; the message carries the tail of its logs."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now.

    The kernel picks it (bind to port 0); there is a small race until Synapse binds
    it, which is acceptable for development and tests.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_is_free(port: int) -> bool:
    """True if a listener could bind 127.0.0.1:port (SO_REUSEADDR, like Twisted)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _tail(path: Path, lines: int = 30) -> str:
    """Last lines of a log file, for error messages (empty if it does not exist)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class LocalSynapse:
    """A Synapse homeserver on 127.0.0.1 whose config and data live in ``base_dir``.

    The same ``base_dir`` can be reused across runs: the server keeps its users,
    rooms and signing key. Only loopback is bound and, by default, federation is off
    (no trusted key servers, no federation listener), so nothing leaves the machine.

    ``federation_port`` turns on federation with other local servers (tests only):
    the server is named ``localhost:<federation_port>`` — a name with a port needs
    no .well-known or SRV lookup, so a peer connects straight to that port — and
    serves federation there over TLS with a throw-away self-signed certificate. See
    ``_federation_overrides`` for each setting and why it is there.
    """

    def __init__(
        self,
        base_dir: Path,
        port: int | None = None,
        server_name: str = "localhost",
        federation_port: int | None = None,
    ) -> None:
        """Describe a server; nothing is generated or started yet.

        ``port=None`` reuses the port of an existing config in ``base_dir`` (so a
        dev server keeps its URL across runs) or else picks a free loopback port.
        An explicit port always wins and is written into an existing config.
        """
        self.base_dir = Path(base_dir).resolve()
        self._federation_port = federation_port
        if federation_port is not None and server_name == "localhost":
            server_name = f"localhost:{federation_port}"
        self._server_name = server_name
        self._explicit_port = port is not None
        self._port = port if port is not None else self._port_from_config() or free_port()
        self._proc: subprocess.Popen[bytes] | None = None
        self._atexit_registered = False

    # ------------------------------------------------------------------ properties

    @property
    def config_path(self) -> Path:
        """The ``homeserver.yaml`` of this server."""
        return self.base_dir / CONFIG_NAME

    @property
    def port(self) -> int:
        """The loopback port of the client listener."""
        return self._port

    @property
    def url(self) -> str:
        """Base URL for clients, e.g. ``http://127.0.0.1:8008``."""
        return f"http://127.0.0.1:{self._port}"

    @property
    def server_name(self) -> str:
        """The Matrix server name: the part after ``:`` in user ids."""
        return self._server_name

    @property
    def log_path(self) -> Path:
        """Synapse's own log (WARNING and above)."""
        return self.base_dir / "homeserver.log"

    @property
    def output_path(self) -> Path:
        """stdout/stderr of the Synapse process (start-up errors end up here)."""
        return self.base_dir / "synapse.out"

    @property
    def pid(self) -> int | None:
        """Process id while running, else None."""
        if self._proc is not None and self._proc.poll() is None:
            return self._proc.pid
        return None

    @property
    def running(self) -> bool:
        """True while the Synapse process we started is alive."""
        return self._proc is not None and self._proc.poll() is None

    # ---------------------------------------------------------------------- config

    def _load_config(self) -> dict[str, Any]:
        with self.config_path.open(encoding="utf-8") as fh:
            cfg = yaml.safe_load(fh)
        if not isinstance(cfg, dict):
            raise ValueError(f"{self.config_path} is not a YAML mapping")
        return cfg

    def _write_config(self, cfg: dict[str, Any]) -> None:
        header = (
            "# Synapse config for local development and tests.\n"
            "# Generated by Synapse, then rewritten by homeward.dev.synapse.\n"
        )
        tmp = self.config_path.with_suffix(".yaml.tmp")
        text = yaml.dump(cfg, Dumper=_NoAliasDumper, sort_keys=False)
        tmp.write_text(header + text, encoding="utf-8")
        tmp.replace(self.config_path)  # atomic: a crash never leaves half a config

    def _port_from_config(self) -> int | None:
        if not self.config_path.exists():
            return None
        try:
            return int(self._load_config()["listeners"][0]["port"])
        except (KeyError, IndexError, TypeError, ValueError, yaml.YAMLError):
            return None

    def _shared_secret(self) -> str:
        return str(self._load_config()["registration_shared_secret"])

    def ensure_config(self) -> None:
        """Create ``homeserver.yaml`` on first use; on later runs reuse it.

        Reuse keeps the server identity, users and rooms. The only change made to an
        existing config is the listener port, and only when a port was given
        explicitly; hand edits to the file survive.
        """
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if self.config_path.exists():
            cfg = self._load_config()
            if cfg.get("server_name") != self._server_name:
                logger.warning(
                    "%s has server_name %r, not %r; using the config's",
                    self.config_path,
                    cfg.get("server_name"),
                    self._server_name,
                )
                self._server_name = str(cfg.get("server_name"))
            current = self._port_from_config()
            if self._explicit_port and current != self._port:
                try:
                    cfg["listeners"][0]["port"] = self._port
                except (KeyError, IndexError, TypeError):
                    cfg["listeners"] = self._listeners()
                self._write_config(cfg)
                logger.info("port of %s changed %s -> %s", self.config_path, current, self._port)
            elif current is not None:
                self._port = current
            return

        t0 = time.monotonic()
        cmd = [
            sys.executable,
            "-m",
            "synapse.app.homeserver",
            "--server-name",
            self._server_name,
            "--config-path",
            str(self.config_path),
            "--data-directory",
            str(self.base_dir),
            "--generate-config",
            "--report-stats=no",
        ]
        result = subprocess.run(cmd, cwd=self.base_dir, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(
                f"Synapse config generation failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        cfg = self._load_config()
        cfg.update(self._overrides(cfg))
        self._write_log_config()
        self._write_config(cfg)
        logger.info(
            "generated %s for %s in %.2f s",
            self.config_path,
            self._server_name,
            time.monotonic() - t0,
        )

    def _listener(self) -> dict[str, Any]:
        # Loopback only and IPv4 only (the generated config also binds ::1, which
        # fails on hosts without IPv6). The client resource also serves the
        # /_synapse/admin API that register() needs; federation is not served.
        return {
            "port": self._port,
            "bind_addresses": ["127.0.0.1"],
            "type": "http",
            "tls": False,
            "x_forwarded": False,
            "resources": [{"names": ["client"], "compress": False}],
        }

    def _listeners(self) -> list[dict[str, Any]]:
        if self._federation_port is None:
            return [self._listener()]
        return [
            self._listener(),
            {
                "port": self._federation_port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": True,  # federation is always HTTPS
                "x_forwarded": False,
                "resources": [{"names": ["federation", "keys"], "compress": False}],
            },
        ]

    def _federation_overrides(self) -> dict[str, Any]:
        """What two servers on loopback need to federate with each other (tests only)."""
        certificate, key = self._write_throwaway_certificate()
        return {
            # The federation listener's TLS: a self-signed certificate made for this run.
            "tls_certificate_path": str(certificate),
            "tls_private_key_path": str(key),
            # ...which the peer cannot verify: in production federation must verify.
            "federation_verify_certificates": False,
            # Synapse refuses outbound requests to private and loopback addresses
            # (ip_range_blacklist) unless allowed here: the peers live on 127.0.0.1.
            "ip_range_whitelist": ["127.0.0.0/8"],
            # Each server fetches the other's signing keys directly; no notary (matrix.org).
            "trusted_key_servers": [],
            # Federation's own rate limiter would slow a burst of test events down.
            "rc_federation": {
                "window_size": 1000,
                "sleep_limit": 10000,
                "sleep_delay": 0,
                "reject_limit": 100000,
                "concurrent": 1000,
            },
            # Retry a peer that was down soon (tests take one down for 15 s), not after minutes.
            "federation": {
                "destination_min_retry_interval": "1s",
                "destination_retry_multiplier": 1,
                "destination_max_retry_interval": "5s",
                "max_long_retry_delay": "5s",
            },
        }

    def _write_throwaway_certificate(self) -> tuple[Path, Path]:
        """A self-signed certificate for localhost / 127.0.0.1, valid for a day."""
        # `cryptography` comes with Synapse (the dev extra); only federating test servers need it.
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        certificate, key_path = self.base_dir / "federation.crt", self.base_dir / "federation.key"
        if certificate.exists() and key_path.exists():
            return certificate, key_path
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.DNSName("localhost"),
                        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    ]
                ),
                critical=False,
            )
            .sign(key, hashes.SHA256())
        )
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        key_path.chmod(0o600)
        certificate.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return certificate, key_path

    def _overrides(self, generated: dict[str, Any]) -> dict[str, Any]:
        """Settings that differ from Synapse's generated defaults, and why."""
        federation = self._federation_overrides() if self._federation_port is not None else {}
        return {
            "server_name": self._server_name,
            "pid_file": str(self.base_dir / "homeserver.pid"),
            "listeners": self._listeners(),
            "database": {
                "name": "sqlite3",
                "args": {"database": str(self.base_dir / "homeserver.db")},
            },
            "media_store_path": str(self.base_dir / "media_store"),
            "log_config": str(self._log_config_path()),
            "signing_key_path": str(self.base_dir / f"{self._server_name}.signing.key"),
            # Keep the generated secret: it is what register() signs with.
            "registration_shared_secret": generated.get("registration_shared_secret") or secrets.token_urlsafe(32),
            "report_stats": False,
            # Offline: never ask matrix.org for keys, and do not warn about it.
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            # Users are made with the shared secret only.
            "enable_registration": False,
            "max_upload_size": "50M",
            "url_preview_enabled": False,
            # Presence adds events to every sync and is not used by the bot.
            "presence": {"enabled": False},
            # Password hashing dominates register/login time at the default of 12
            # rounds; this server only ever holds throw-away test accounts.
            "bcrypt_rounds": 4,
            **_RATE_LIMITS,
            **federation,
        }

    def _log_config_path(self) -> Path:
        return self.base_dir / f"{self._server_name}.log.config"

    def _write_log_config(self) -> None:
        """Replace the generated log config: WARNING and up, straight to a file.

        The generated one logs INFO through a memory buffer; WARNING keeps the file
        small and writing unbuffered means a crash leaves its reason in the log.
        """
        log_cfg = {
            "version": 1,
            "formatters": {
                "precise": {"format": "%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(request)s - %(message)s"}
            },
            "handlers": {
                "file": {
                    "class": "logging.FileHandler",
                    "formatter": "precise",
                    "filename": str(self.log_path),
                    "encoding": "utf8",
                }
            },
            "loggers": {"synapse.storage.SQL": {"level": "WARNING"}},
            "root": {"level": "WARNING", "handlers": ["file"]},
            "disable_existing_loggers": False,
        }
        self._log_config_path().write_text(
            "# Written by homeward.dev.synapse\n" + yaml.safe_dump(log_cfg, sort_keys=False),
            encoding="utf-8",
        )

    # ------------------------------------------------------------------- lifecycle

    def _spawn(self) -> None:
        if self.running:
            raise RuntimeError(f"Synapse already running (pid {self.pid})")
        if not _port_is_free(self._port):
            raise SynapseStartError(
                f"port {self._port} on 127.0.0.1 is in use (a stale Synapse? see {self.base_dir / 'homeserver.pid'})"
            )
        with self.output_path.open("ab") as out:
            out.write(f"\n=== start {time.strftime('%Y-%m-%d %H:%M:%S')} ===\n".encode())
            out.flush()
            # Own session/process group: Ctrl-C in a terminal does not hit Synapse
            # half-way through a test, and stop() can signal the whole group.
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "synapse.app.homeserver", "-c", str(self.config_path)],
                cwd=self.base_dir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if not self._atexit_registered:
            # Last line of defence if the owner forgets stop() or dies of an exception.
            atexit.register(self._stop_at_exit)
            self._atexit_registered = True
        logger.debug("spawned Synapse pid %s on port %s", self._proc.pid, self._port)

    def _failure(self, reason: str) -> SynapseStartError:
        return SynapseStartError(
            f"Synapse at {self.url} {reason}\n"
            f"--- {self.output_path} ---\n{_tail(self.output_path)}\n"
            f"--- {self.log_path} ---\n{_tail(self.log_path)}"
        )

    async def start(self, timeout: float = _START_TIMEOUT_S) -> None:
        """Start Synapse and return once ``/_matrix/client/versions`` answers 200.

        Generates the config on first use. Raises :class:`SynapseStartError` with
        the tail of the logs if the process exits or does not answer in time.
        """
        self.ensure_config()
        t0 = time.monotonic()
        self._spawn()
        versions = f"{self.url}/_matrix/client/versions"
        probe_timeout = aiohttp.ClientTimeout(total=2)
        async with aiohttp.ClientSession(timeout=probe_timeout) as session:
            while True:
                code = self._proc.poll() if self._proc else None
                if code is not None:
                    raise self._failure(f"exited with code {code} during start-up")
                if time.monotonic() - t0 > timeout:
                    await self.kill()
                    raise self._failure(f"did not answer within {timeout:.0f} s")
                try:
                    async with session.get(versions) as resp:
                        if resp.status == 200:
                            break
                except (TimeoutError, aiohttp.ClientError):
                    pass
                await asyncio.sleep(0.1)
        logger.info(
            "Synapse %s up at %s (pid %s) in %.2f s",
            self._server_name,
            self.url,
            self._proc.pid if self._proc else "?",
            time.monotonic() - t0,
        )

    async def _wait_exit(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self._proc is not None and self._proc.poll() is None:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    def _signal(self, sig: signal.Signals) -> None:
        if self._proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, sig)

    async def stop(self, timeout: float = _STOP_TIMEOUT_S) -> None:
        """Shut Synapse down gracefully (SIGTERM), SIGKILL after ``timeout`` s.

        Safe to call when not running. Data stays in ``base_dir``; :meth:`start`
        brings the same server back on the same port.
        """
        if not self.running:
            self._proc = None
            return
        t0 = time.monotonic()
        self._signal(signal.SIGTERM)
        if not await self._wait_exit(timeout):
            logger.warning("Synapse ignored SIGTERM for %.0f s; killing it", timeout)
            await self.kill()
            return
        logger.info("Synapse stopped in %.2f s", time.monotonic() - t0)
        self._proc = None

    async def kill(self) -> None:
        """Kill Synapse at once (SIGKILL), as a crash or power cut would."""
        if self._proc is None:
            return
        self._signal(signal.SIGKILL)
        await self._wait_exit(_STOP_TIMEOUT_S)
        logger.info("Synapse killed")
        self._proc = None

    def start_blocking(self, timeout: float = _START_TIMEOUT_S) -> None:
        """Synchronous :meth:`start` for CLIs (not inside a running event loop)."""
        asyncio.run(self.start(timeout))

    def stop_blocking(self, timeout: float = _STOP_TIMEOUT_S) -> None:
        """Synchronous :meth:`stop` for CLIs (not inside a running event loop)."""
        asyncio.run(self.stop(timeout))

    def _stop_at_exit(self) -> None:
        if self._proc is None or self._proc.poll() is not None:
            return
        self._signal(signal.SIGTERM)
        try:
            self._proc.wait(_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self._proc.wait()

    def __enter__(self) -> LocalSynapse:
        self.start_blocking()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_blocking()

    async def __aenter__(self) -> LocalSynapse:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # ----------------------------------------------------------------------- users

    def user_id(self, localpart: str) -> str:
        """Full Matrix user id for a localpart on this server."""
        return f"@{localpart}:{self._server_name}"

    async def register(
        self,
        localpart: str,
        password: str,
        admin: bool = False,
        displayname: str | None = None,
    ) -> str:
        """Create a user with the shared-secret admin API and return its user id.

        Idempotent: if the user already exists the id is returned without error (so
        demo set-up can be re-run). The password of an existing user is *not*
        changed or checked.
        """
        base = f"{self.url}/_synapse/admin/v1/register"
        async with aiohttp.ClientSession(timeout=_HTTP_TIMEOUT) as session:
            async with session.get(base) as resp:
                resp.raise_for_status()
                nonce = (await resp.json())["nonce"]
            mac = hmac.new(self._shared_secret().encode(), digestmod=hashlib.sha1)
            mac.update(
                b"\x00".join(
                    [
                        nonce.encode(),
                        localpart.encode(),
                        password.encode(),
                        b"admin" if admin else b"notadmin",
                    ]
                )
            )
            body: dict[str, Any] = {
                "nonce": nonce,
                "username": localpart,
                "password": password,
                "admin": admin,
                "mac": mac.hexdigest(),
            }
            if displayname is not None:
                body["displayname"] = displayname
            async with session.post(base, json=body) as resp:
                data = await resp.json(content_type=None)
                if resp.status == 200:
                    logger.info("registered %s", data["user_id"])
                    return str(data["user_id"])
                if data.get("errcode") == "M_USER_IN_USE":
                    logger.info("user %s already exists", self.user_id(localpart))
                    return self.user_id(localpart)
                raise RuntimeError(f"register {localpart!r} failed: {resp.status} {data}")

    async def login_token(self, user_id: str, password: str, device_id: str | None = None) -> str:
        """Log in with a password and return a fresh access token (new device)."""
        body: dict[str, Any] = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": user_id},
            "password": password,
        }
        if device_id is not None:
            body["device_id"] = device_id
        async with (
            aiohttp.ClientSession(timeout=_HTTP_TIMEOUT) as session,
            session.post(f"{self.url}/_matrix/client/v3/login", json=body) as resp,
        ):
            data = await resp.json(content_type=None)
            if resp.status != 200:
                raise RuntimeError(f"login {user_id} failed: {resp.status} {data}")
            return str(data["access_token"])
