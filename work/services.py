"""The long-lived things a handler may use, passed explicitly instead of globals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from homeward.care.pathway import Pathway
from homeward.clock import Clock
from homeward.config import Config
from homeward.messages.catalog import Catalog
from homeward.ratelimit import RateLimiter


@dataclass
class Services:
    config: Config
    catalog: Catalog
    clock: Clock
    pathways: dict[str, Pathway] = field(default_factory=dict)
    wake_outbox: Callable[[], None] = field(default=lambda: None)
    wake_reminders: Callable[[], None] = field(default=lambda: None)
    #: Per-person counts of rate-limited commands (in memory; `homeward.ratelimit`).
    limiter: RateLimiter = field(default_factory=RateLimiter)
    #: The rate limits' counters, by command (e.g. commands/export_limit.py), for as long as the bot runs.
    limits: dict[str, Any] = field(default_factory=dict)
