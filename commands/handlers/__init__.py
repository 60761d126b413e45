"""Importing this package registers every command handler with `commands.registry.registry`."""

from commands.handlers import core

__all__ = ["core"]
