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
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from homeward.ids import SERVER_NAME, is_user_id

ENV_PREFIX = "HOMEWARD_"
SERVER_PATTERN = re.compile(rf"^\*:{SERVER_NAME}$")  # every user of one server

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
    data_dir: Path = Path("data")
    allowed_inviters: list[str] = Field(default_factory=list)
    timezone: str = "Europe/Oslo"
    language: Language = "en"
    encryption: bool = True
    pathways_dir: Path | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # The coordinator's desk: when the morning worklist goes out (local time, working days),
    # after how many working days without activity a case is called quiet, and after how many
    # days a closed case's personal content is removed from the store (None: kept).
    digest_time: str = "07:30"
    quiet_days: int = Field(default=7, ge=1, le=365)
    retention_days: int | None = Field(default=None, ge=1)
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

    @field_validator("allowed_inviters")
    @classmethod
    def _inviter_patterns(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not (v == "*" or is_user_id(v) or SERVER_PATTERN.match(v))]
        if bad:
            raise ValueError(
                f"{', '.join(map(repr, bad))}: each entry must be a user id (@nurse:example.org), "
                "a server pattern (*:example.org) or *"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}, e.g. Europe/Oslo or Europe/Stockholm") from None
        return value

    @field_validator("digest_time")
    @classmethod
    def _digest_time(cls, value: str) -> str:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value.strip()) or value.strip() >= "20:00":
            raise ValueError("must be a time of day HH:MM before 20:00 (when quiet hours begin), e.g. 07:30")
        return value.strip()

    @model_validator(mode="after")
    def _has_credentials(self) -> "Config":
        if self.password is None and self.access_token is None:
            raise ValueError(CREDENTIALS_MISSING)
        return self

    def inviter_allowed(self, user_id: str) -> bool:
        """Whether an invite from `user_id` may be accepted."""
        server = user_id.split(":", 1)[-1]
        for pattern in self.allowed_inviters:
            if pattern == "*" or pattern == user_id or pattern == f"*:{server}":
                return True
        return False

    @property
    def store_path(self) -> Path:
        return self.data_dir / "homeward.sqlite3"

    @property
    def crypto_dir(self) -> Path:
        return self.data_dir / "crypto"

    @property
    def credentials_path(self) -> Path:
        return self.data_dir / "credentials.json"


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    """Values from HOMEWARD_<KEY>; lists accept JSON or comma-separated text."""
    overrides: dict[str, Any] = {}
    for name, field in Config.model_fields.items():
        raw = environ.get(ENV_PREFIX + name.upper())
        if raw is None:
            continue
        if name == "allowed_inviters":
            raw_stripped = raw.strip()
            if raw_stripped.startswith("["):
                try:
                    overrides[name] = json.loads(raw_stripped)
                except json.JSONDecodeError as exc:
                    raise ConfigError([f"{ENV_PREFIX}ALLOWED_INVITERS: not valid JSON ({exc.msg})"]) from None
            else:
                overrides[name] = [p.strip() for p in raw.split(",") if p.strip()]
        elif field.annotation is bool:
            word = raw.strip().lower()
            if word not in TRUE_WORDS | FALSE_WORDS:
                # A typo must not silently turn encryption off.
                raise ConfigError([f"{ENV_PREFIX}{name.upper()}: must be true or false (got {raw!r})"])
            overrides[name] = word in TRUE_WORDS
        else:
            overrides[name] = raw
    return overrides


def _describe(error: dict[str, Any], source: Path, from_env: set[str]) -> str:
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
    data.update(overrides)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        problems = [_describe(e, path, set(overrides)) for e in exc.errors()]
        # The credentials check runs only once every field is valid; report it with the rest.
        if not data.get("password") and not data.get("access_token") and not any(CREDENTIALS_MISSING in p for p in problems):
            problems.append(f"{path}: {CREDENTIALS_MISSING}")
        raise ConfigError(problems) from None
    if not config.data_dir.is_absolute():
        config.data_dir = (path.parent / config.data_dir).resolve()
    if config.pathways_dir is not None and not config.pathways_dir.is_absolute():
        config.pathways_dir = (path.parent / config.pathways_dir).resolve()
    return config
