"""Set-up shared by the unit tests (no homeserver): the shipped pathways and message catalog, loaded
once per test run, and a `Config` and `Services` built from them.

Loading the pathways (YAML, checked by pydantic) takes about 0.2 s and the catalog about 0.05 s;
the tests used to do both for every test, and the fuzz tests for every example. Both are read-only
(the pathway models are frozen, and nothing writes to the catalog), so one copy serves every test.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from homeward.care.pathway import Pathway, default_pathways_dir, load_pathways
from homeward.clock import Clock
from homeward.config import Config
from homeward.messages.catalog import Catalog
from homeward.work.services import Services


@cache
def _shipped() -> dict[str, Pathway]:
    return load_pathways(default_pathways_dir())


def shipped_pathways() -> dict[str, Pathway]:
    """The pathways shipped in pathways/, by id (a new dict each time; the pathways in it are shared)."""
    return dict(_shipped())


@cache
def catalog() -> Catalog:
    """The message catalog of every language."""
    return Catalog()


def unit_config(**values: Any) -> Config:
    """A bot's configuration for tests that never reach a homeserver; `values` add to or replace the defaults."""
    return Config.model_validate({"homeserver": "http://127.0.0.1:1", "user_id": "@bot:x", "password": "x", **values})


def unit_services(
    clock: Clock,
    *,
    pathways: dict[str, Pathway] | None = None,
    wake_reminders: Callable[[], None] | None = None,
    **config: Any,
) -> Services:
    """`Services` over the shipped pathways and catalog, with `unit_config(**config)`."""
    services = Services(
        config=unit_config(**config),
        catalog=catalog(),
        clock=clock,
        pathways=shipped_pathways() if pathways is None else pathways,
    )
    if wake_reminders is not None:
        services.wake_reminders = wake_reminders
    return services
