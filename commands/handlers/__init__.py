"""Importing this package registers every command handler with `commands.registry.registry`."""

from commands.handlers import cases, core, dates, items, reminding, team

__all__ = ["cases", "core", "dates", "items", "reminding", "team"]
