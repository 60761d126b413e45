"""A clock that stands still until a test moves it (only tests need one)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from homeward.clock import Clock


class FakeClock(Clock):
    """A clock that stands still until a test moves it."""

    def __init__(self, start: datetime) -> None:
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def set(self, moment: datetime) -> None:
        self._now = moment.astimezone(UTC)
