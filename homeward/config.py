"""Homeward's configuration: one TOML file, every key overridable from the environment.

Secrets (the password, an access token) can stay out of the file: any key `foo` is
overridden by the environment variable `HOMEWARD_FOO`. A wrong configuration stops
start-up with one line per problem, naming the key — never a traceback.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, get_origin

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from homeward.clock import time_zone
from homeward.ids import SERVER_NAME, host_of, is_ip_literal, is_user_id, server_of
from homeward.ratelimit import PDF_EXPORTS, Rate, parse_rate

ENV_PREFIX = "HOMEWARD_"
DATABASE_URL_ENV = "HOMEWARD_DATABASE_URL"
SERVER_PATTERN = re.compile(rf"^\*:{SERVER_NAME}$")  # every user of one server
HOST_NAME = re.compile(
    r"^(?=.{1,255}$)[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)*$"
)
#: Config keys that are lists: from the environment as JSON or comma-separated text.
LIST_KEYS = ("allowed_inviters", "case_openers", "allowed_servers")
PATTERN_HELP = "each entry must be a user id (@nurse:example.org), a server pattern (*:example.org) or *"

Language = Literal["nb", "sv", "en"]
TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}
CREDENTIALS_MISSING = "password or access_token: one of them is required (HOMEWARD_PASSWORD keeps it out of the file)"


class ConfigError(Exception):
    """A configuration that cannot be used; `problems` has one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class Config(BaseModel):
    """Everything the bot needs to run; see the README for each key."""

    model_config = ConfigDict(extra="forbid")

    homeserver: str = Field(description="Base URL of the homeserver, e.g. http://127.0.0.1:8008")
    user_id: str = Field(description="The bot's Matrix id, e.g. @homeward:example.org")
    password: SecretStr | None = None
    access_token: SecretStr | None = None
    device_name: str = "Homeward"
    # The bot's display name; None: "Homeward (chatbot)" in each room's language (`bot.display_name`).
    # One name for every room, or one per language ({ sv = "…", nb = "…", en = "…" }).
    display_name: str | dict[Language, str] | None = None
    data_dir: Path = Path("data")
    # Where the store is: "sqlite" (the file data_dir/homeward.sqlite3, one process), or a PostgreSQL
    # URL (postgresql://user:password@host/db; two processes may share it, one acting). Also from
    # HOMEWARD_DATABASE_URL, so that the password stays out of the file.
    database: SecretStr = SecretStr("sqlite")
    allowed_inviters: list[str] = Field(default_factory=list)
    case_openers: list[str] = Field(default_factory=list)
    # None: only the bot's own server (filled in by the validator below).
    allowed_servers: list[str] | None = None
    rate_limits: dict[str, str] = Field(default_factory=dict)
    timezone: str = "Europe/Oslo"
    language: Language = "en"
    encryption: bool = True
    # Which of a member's devices the bot trusts: "cross-signed" — those their own cross-signing identity
    # signed, the identity pinned the first time the bot sees it — or "any" device of their account.
    device_trust: Literal["cross-signed", "any"] = "cross-signed"
    pathways_dir: Path | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Libraries whose DEBUG log is wanted (e.g. ["nio"]); every other library logs warnings only.
    debug_loggers: list[str] = Field(default_factory=list)
    # The passphrase of the crypto store (and of the sealed access token and seeds); without it one is
    # generated into data_dir/store.key.
    store_key: SecretStr | None = None
    # How many PDF exports one person may have rendered within the window (PDFs take seconds of CPU):
    # the limit `PDF_EXPORTS` of the one rate limiter (`rate_limiter_limits`).
    export_pdf_limit: int = Field(default=5, ge=1)
    export_pdf_window_seconds: int = Field(default=600, ge=1)
    # The coordinator's desk: when the morning worklist goes out (local time, working days),
    # after how many working days without activity a case is called quiet, and after how many
    # days a closed case's personal content is removed from the store (None: kept).
    digest_time: str = "07:30"
    quiet_days: int = Field(default=7, ge=1, le=365)
    retention_days: int | None = Field(default=None, ge=1)
    # How many requests the outbox sender has in flight at once, each for another room (bot/sender.py).
    outbox_concurrency: int = Field(default=8, ge=1, le=64)
    # Demos and tests only: run the bot's clock this many seconds ahead of (or behind) real time.
    time_shift_seconds: float = 0.0

    @field_validator("homeserver")
    @classmethod
    def _homeserver_is_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an http:// or https:// URL, e.g. https://matrix.example.org")
        return value.rstrip("/")

    @field_validator("user_id")
    @classmethod
    def _user_id_shape(cls, value: str) -> str:
        if not is_user_id(value):
            raise ValueError("must be a Matrix user id like @homeward:example.org")
        return value

    @field_validator("database")
    @classmethod
    def _database(cls, value: SecretStr) -> SecretStr:
        text = value.get_secret_value().strip()
        if text != "sqlite" and not text.startswith(("postgresql://", "postgres://")):
            raise ValueError('must be "sqlite" or a PostgreSQL URL (postgresql://user:password@host:5432/homeward)')
        return SecretStr(text)

    @field_validator("allowed_inviters", "case_openers")
    @classmethod
    def _user_patterns(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not (v == "*" or is_user_id(v) or SERVER_PATTERN.match(v))]
        if bad:
            raise ValueError(f"{', '.join(map(repr, bad))}: {PATTERN_HELP}")
        return value

    @field_validator("allowed_servers")
    @classmethod
    def _server_names(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        # Server ACLs match names without a port and deny IP literals (allow_ip_literals: false).
        bad = [v for v in value if not HOST_NAME.match(v) or is_ip_literal(v)]
        if bad:
            raise ValueError(
                f"{', '.join(map(repr, bad))}: each entry must be a server's DNS name without a port "
                "(example.org); IP addresses are not allowed in care rooms"
            )
        return sorted({v.lower() for v in value})

    @field_validator("rate_limits")
    @classmethod
    def _rates(cls, value: dict[str, str]) -> dict[str, str]:
        problems = []
        for name, text in value.items():
            try:
                parse_rate(str(text))
            except ValueError as exc:
                problems.append(f"{name!r}: {exc}")
        if problems:
            raise ValueError("; ".join(problems))
        return {" ".join(name.lower().split()): str(text) for name, text in value.items()}

    @field_validator("debug_loggers")
    @classmethod
    def _logger_names(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not re.fullmatch(r"[A-Za-z_][\w.]*", v)]
        if bad:
            raise ValueError(f"{', '.join(map(repr, bad))}: each entry must be a logger name, e.g. nio or aiosqlite")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        time_zone(value)
        return value

    @field_validator("digest_time")
    @classmethod
    def _digest_time(cls, value: str) -> str:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value.strip()) or value.strip() >= "20:00":
            raise ValueError("must be a time of day HH:MM before 20:00 (when quiet hours begin), e.g. 07:30")
        return value.strip()

    @field_validator("display_name")
    @classmethod
    def _display_name(cls, value: str | dict[str, str] | None) -> str | dict[str, str] | None:
        names = [value] if isinstance(value, str) else list((value or {}).values())
        if any(not name.strip() or len(name) > 80 for name in names):
            raise ValueError('each name must be 1 to 80 characters, e.g. "Homeward (chatbot)"')
        return value

    def bot_name(self, language: str) -> str | None:
        """The display name configured for rooms of `language`; None: the catalog's (`bot.display_name`)."""
        if isinstance(self.display_name, str):
            return self.display_name
        return (self.display_name or {}).get(language)  # type: ignore[call-overload]

    @model_validator(mode="after")
    def _has_credentials(self) -> Config:
        if self.password is None and self.access_token is None:
            raise ValueError(CREDENTIALS_MISSING)
        return self

    @model_validator(mode="after")
    def _own_server_allowed(self) -> Config:
        """The bot's own server is always allowed: an ACL without it locks the bot out of its rooms."""
        own = host_of(server_of(self.user_id)).lower()
        if is_ip_literal(own):
            raise ValueError(
                f"user_id: the bot's server {own!r} is an IP address; care rooms deny IP-literal servers "
                "(m.room.server_acl), so the bot needs a server with a DNS name"
            )
        if self.allowed_servers is None:
            self.allowed_servers = [own]
        elif own not in self.allowed_servers:
            raise ValueError(
                f"allowed_servers: must include the bot's own server {own!r}, or the bot locks itself out of its rooms"
            )
        return self

    def inviter_allowed(self, user_id: str) -> bool:
        """Whether an invite from `user_id` may be accepted."""
        return matches(self.allowed_inviters, user_id)

    def case_opener(self, user_id: str) -> bool:
        """Whether `user_id` is named in `case_openers` (who may run `!case new`)."""
        return matches(self.case_openers, user_id)

    def server_allowed(self, user_id: str) -> bool:
        """Whether `user_id` is on a server the region trusts (`allowed_servers`)."""
        return host_of(server_of(user_id)).lower() in (self.allowed_servers or [])

    @property
    def rate_overrides(self) -> dict[str, Rate | None]:
        """The configured rate limits by command name (None: no limit)."""
        return {name: parse_rate(text) for name, text in self.rate_limits.items()}

    @property
    def rate_limiter_limits(self) -> dict[str, Rate | None]:
        """Every configured limit of the one rate limiter, by what it counts: `rate_limits` by command name,
        and the PDF exports' (`export_pdf_limit` per `export_pdf_window_seconds`) as `PDF_EXPORTS`."""
        pdf = Rate(self.export_pdf_limit, timedelta(seconds=self.export_pdf_window_seconds))
        return {**self.rate_overrides, PDF_EXPORTS: pdf}

    @property
    def store_path(self) -> Path:
        """The SQLite store's file (when `database` is "sqlite")."""
        return self.data_dir / "homeward.sqlite3"

    @property
    def database_url(self) -> str | None:
        """The PostgreSQL URL, or None for the SQLite file in `data_dir`."""
        text = self.database.get_secret_value()
        return None if text == "sqlite" else text

    @property
    def store_location(self) -> str | Path:
        """What the store is opened from: the PostgreSQL URL, or the SQLite file."""
        return self.database_url or self.store_path

    @property
    def crypto_dir(self) -> Path:
        return self.data_dir / "crypto"

    @property
    def credentials_path(self) -> Path:
        return self.data_dir / "credentials.json"


def matches(patterns: list[str], user_id: str) -> bool:
    """Whether a user id matches one of `patterns`: the id itself, `*:server` (every user of it) or `*`.

    The one matcher of `allowed_inviters` and `case_openers`: the server part is compared
    whole, so `*:example.org` matches neither `evil-example.org` nor `sub.example.org`.
    """
    server = server_of(user_id)
    return any(pattern == "*" or pattern == user_id or pattern == f"*:{server}" for pattern in patterns)


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    """Values from HOMEWARD_<KEY>; lists accept JSON or comma-separated text."""
    overrides: dict[str, Any] = {}
    for name, field in Config.model_fields.items():
        raw = environ.get(ENV_PREFIX + name.upper())
        if raw is None:
            continue
        if name in LIST_KEYS or get_origin(field.annotation) is list:
            raw_stripped = raw.strip()
            if raw_stripped.startswith("["):
                try:
                    overrides[name] = json.loads(raw_stripped)
                except json.JSONDecodeError as exc:
                    raise ConfigError([f"{ENV_PREFIX}{name.upper()}: not valid JSON ({exc.msg})"]) from None
            else:
                overrides[name] = [p.strip() for p in raw.split(",") if p.strip()]
        elif name == "display_name" and raw.strip().startswith("{"):
            try:
                overrides[name] = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ConfigError([f"{ENV_PREFIX}DISPLAY_NAME: not valid JSON ({exc.msg})"]) from None
        elif name == "rate_limits":
            try:
                overrides[name] = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ConfigError(
                    [f'{ENV_PREFIX}RATE_LIMITS: not valid JSON ({exc.msg}); write e.g. {{"case new": "5/1h"}}']
                ) from None
        elif field.annotation is bool:
            word = raw.strip().lower()
            if word not in TRUE_WORDS | FALSE_WORDS:
                # A typo must not silently turn encryption off.
                raise ConfigError([f"{ENV_PREFIX}{name.upper()}: must be true or false (got {raw!r})"])
            overrides[name] = word in TRUE_WORDS
        else:
            overrides[name] = raw
    return overrides


def _describe(error: ErrorDetails, source: Path, from_env: set[str]) -> str:
    key = ".".join(str(p) for p in error["loc"])
    if error["loc"] and error["loc"][0] in from_env:
        where = f"{ENV_PREFIX}{str(error['loc'][0]).upper()}"
    else:
        where = f"{source}: {key}" if key else str(source)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        message = "is required"
    elif error["type"] == "extra_forbidden":
        message = "is not a known key (see the README for the list)"
    return f"{where}: {message}"


def load_config(path: Path, environ: dict[str, str] | None = None) -> Config:
    """Read, merge with the environment and validate; raise ConfigError listing every problem."""
    environ = dict(os.environ if environ is None else environ)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file"]) from None
    except IsADirectoryError:
        raise ConfigError([f"{path}: is a folder, not a configuration file"]) from None
    except PermissionError:
        raise ConfigError([f"{path}: not readable (permission denied)"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None
    overrides = _env_overrides(environ)
    if DATABASE_URL_ENV in environ:  # the usual name for a database URL with its password
        overrides["database"] = environ[DATABASE_URL_ENV]
    data.update(overrides)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        problems = [_describe(e, path, set(overrides)) for e in exc.errors()]
        # The credentials check runs only once every field is valid; report it with the rest.
        if (
            not data.get("password")
            and not data.get("access_token")
            and not any(CREDENTIALS_MISSING in p for p in problems)
        ):
            problems.append(f"{path}: {CREDENTIALS_MISSING}")
        raise ConfigError(problems) from None
    if not config.data_dir.is_absolute():
        config.data_dir = (path.parent / config.data_dir).resolve()
    if config.pathways_dir is not None and not config.pathways_dir.is_absolute():
        config.pathways_dir = (path.parent / config.pathways_dir).resolve()
    return config
