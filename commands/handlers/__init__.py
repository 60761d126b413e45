"""Importing this package registers every command handler with `commands.registry.registry`."""

from homeward.commands.handlers import (
    audit,
    careplan,
    caseload,
    cases,
    consent,
    core,
    dates,
    delays,
    export,
    family,
    items,
    meetings,
    pictures,
    reminding,
    team,
    trust,
)

__all__ = [
    "audit",
    "careplan",
    "caseload",
    "cases",
    "consent",
    "core",
    "dates",
    "delays",
    "export",
    "family",
    "items",
    "meetings",
    "pictures",
    "reminding",
    "team",
    "trust",
]
