"""How often one person may have a PDF rendered: at most `export_pdf_limit` within `export_pdf_window_seconds`.

A PDF of a big plan takes seconds of CPU (bench/exports.py); a member typing
`!export case pdf` in a loop would starve every other room. The limit is per user and
command, a sliding window counted in memory: a restart forgets it, which costs at most
one more window's worth of exports. HTML, Markdown, FHIR and iCalendar are cheap and not
limited.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from homeward.work.services import Services


@dataclass
class RateLimit:
    """At most `count` uses per (user, command) within `window`."""

    count: int
    window: timedelta
    _uses: dict[tuple[str, str], deque[datetime]] = field(default_factory=dict)

    def next_allowed(self, user: str, command: str, now: datetime) -> datetime | None:
        """None when `user` may run `command` now; else the moment they may again."""
        uses = self._recent(user, command, now)
        if len(uses) < self.count:
            return None
        return uses[-self.count] + self.window

    def record(self, user: str, command: str, now: datetime) -> None:
        self._recent(user, command, now).append(now)

    def _recent(self, user: str, command: str, now: datetime) -> deque[datetime]:
        uses = self._uses.setdefault((user, command), deque())
        while uses and uses[0] <= now - self.window:
            uses.popleft()
        return uses


PDF = "export pdf"


def pdf_limit(services: Services) -> RateLimit:
    """The bot's limit of PDF exports, from its configuration (one per running bot)."""
    limit = services.limits.get(PDF)
    if limit is None:
        config = services.config
        limit = services.limits[PDF] = RateLimit(
            config.export_pdf_limit, timedelta(seconds=config.export_pdf_window_seconds)
        )
    return limit
