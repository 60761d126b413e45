"""The one source of the current time, so tests can drive days of a case in seconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ShiftedClock(Clock):
    """Real time moved by a fixed offset: demos and tests live "on 1 December" at normal speed.

    `jump` moves the offset (a day passes in a second); the bot re-aims its reminder
    scheduler after a jump (`HomewardBot.clock_jumped`).
    """

    def __init__(self, offset: timedelta) -> None:
        self.offset = offset

    @classmethod
    def starting_at(cls, moment: datetime) -> ShiftedClock:
        return cls(moment - datetime.now(UTC))

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def jump(self, delta: timedelta) -> None:
        self.offset += delta

    def jump_to(self, moment: datetime) -> None:
        self.offset = moment - datetime.now(UTC)
