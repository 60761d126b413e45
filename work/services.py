"""The long-lived things a handler may use, passed explicitly instead of globals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from homeward.care.pathway import Pathway
from homeward.clock import Clock
from homeward.config import Config
from homeward.messages.catalog import Catalog
from homeward.ratelimit import RateLimiter
from homeward.store.trust import TrustBook


@dataclass
class Services:
    config: Config
    catalog: Catalog
    clock: Clock
    pathways: dict[str, Pathway] = field(default_factory=dict)
    wake_outbox: Callable[[], None] = field(default=lambda: None)
    wake_reminders: Callable[[], None] = field(default=lambda: None)
    #: A member's display name in a room, as the bot's client knows it from the room's state (`m.room.member`),
    #: or None. Read when a document is made, never stored: a name is personal data, and the room keeps it.
    display_name: Callable[[str, str], str | None] = field(default=lambda room_id, user_id: None)
    #: Per-person counts of rate-limited commands and their configured limits (in memory; `homeward.ratelimit`).
    limiter: RateLimiter = field(init=False)
    #: Members' pinned identities and trusted devices, in memory (`store.trust.TrustBook`; `work.trust`).
    trust: TrustBook = field(default_factory=TrustBook)

    def __post_init__(self) -> None:
        self.limiter = RateLimiter(self.config.rate_limiter_limits)
