"""The one source of the current time, so tests can drive days of a case in seconds; and the one check
that a time zone exists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def time_zone(name: str) -> ZoneInfo:
    """The IANA time zone `name`; a ValueError naming it when there is none (the configuration's,
    a pathway's, an export's and a working calendar's zone are all checked here)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"unknown IANA time zone {name!r} (e.g. 'Europe/Oslo')") from None


class Clock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ShiftedClock(Clock):
    """Real time moved by a fixed offset: demos and tests live "on 1 December" at normal speed.

    `jump_to` moves the offset (a day passes in a second); the bot re-aims its reminder
    scheduler after a jump (`HomewardBot.clock_jumped`).
    """

    def __init__(self, offset: timedelta) -> None:
        self.offset = offset

    @classmethod
    def starting_at(cls, moment: datetime) -> ShiftedClock:
        return cls(moment - datetime.now(UTC))

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def jump_to(self, moment: datetime) -> None:
        self.offset = moment - datetime.now(UTC)
