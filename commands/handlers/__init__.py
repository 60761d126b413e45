"""Importing this package registers every command handler with `commands.registry.registry`."""

from homeward.commands.handlers import (
    audit,
    cases,
    consent,
    core,
    dates,
    desk,
    export,
    items,
    meetings,
    pictures,
    plan,
    reminding,
    team,
)

__all__ = [
    "audit",
    "cases",
    "consent",
    "core",
    "dates",
    "desk",
    "export",
    "items",
    "meetings",
    "pictures",
    "plan",
    "reminding",
    "team",
]
