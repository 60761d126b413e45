"""Per-person rate limits of commands: how often one person may run one command, or one variant of it.

A command declares its default on its handler (`@command("case new", ..., rate=Rate(10,
timedelta(hours=1)))`); the configuration's `rate_limits` overrides it by command name
(`"case new" = "5/1h"`, `"remind" = "off"`). The dispatcher asks `RateLimiter.wait` before
the handler runs and calls `RateLimiter.record` when it succeeded: a refused or failed
command does not count, so a typo never locks anyone out.

A limit may count a variant of a command instead (`limit_key`): `"export pdf"` counts the
PDFs of every `!export` (one takes seconds of CPU; the other formats are cheap). Its handler
asks the same limiter once it knows the format; the configuration sets it with
`export_pdf_limit` per `export_pdf_window_seconds` (`Config.rate_limiter_limits`).

Besides, one limit counts all of a person's commands together (`ALL_COMMANDS`, `"*"` in
`rate_limits`; `PERSON_RATE` by default): a brake, so that one person's flood of commands (a
script, a stuck key) does not hold up everyone else's answers. Over it, a command is answered
once with when to try again, and the ones after that are left unanswered until then — except
acknowledgements and consent answers, which always run (`RateLimiter.person`).

Counts are kept in memory, per process: a restart forgets them. A limit here is a brake on
floods and on mistakes (a loop in a script, a stolen session opening rooms under the
hospital's name), not a quota anybody accounts for; the audit trail is the record.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE = re.compile(r"^\s*(\d{1,6})\s*/\s*(\d{0,6})\s*([smhd])\s*$")
OFF = "off"


@dataclass(frozen=True)
class Rate:
    """At most `count` runs per `period`, per person."""

    count: int
    period: timedelta

    def __str__(self) -> str:
        seconds = int(self.period.total_seconds())
        for unit in ("d", "h", "m"):
            if seconds % UNITS[unit] == 0:
                return f"{self.count}/{seconds // UNITS[unit]}{unit}"
        return f"{self.count}/{seconds}s"


def parse_rate(text: str) -> Rate | None:
    """`"5/1h"`, `"30/10m"`, `"3/d"` (count per period, in s, m, h or d); `"off"`: no limit (None).

    Raises ValueError with the expected form otherwise.
    """
    if text.strip().lower() == OFF:
        return None
    match = _RATE.match(text)
    if match is None or int(match.group(1)) < 1 or match.group(2) == "0":
        raise ValueError(f'{text!r}: write a count per period, e.g. "5/1h", "30/10m", "3/1d", or "off"')
    count, amount, unit = int(match.group(1)), int(match.group(2) or 1), match.group(3)
    return Rate(count, timedelta(seconds=amount * UNITS[unit]))


def limit_key(command: str, variant: str | None = None) -> str:
    """What one limit counts: a command's runs (`"case new"`), or those of one variant of it (`"export pdf"`)."""
    return f"{command} {variant}" if variant else command


#: The PDFs of `!export plan|case|minutes … pdf`, counted together.
PDF_EXPORTS = limit_key("export", "pdf")
#: All of one person's commands together; its limit is `rate_limits."*"` (default `PERSON_RATE`).
ALL_COMMANDS = "*"
#: Generous for the busiest coordinator typing (a care plan's goals pasted one per line, then `!status`),
#: far below a script's flood: 30 commands a minute, one every two seconds on average.
PERSON_RATE = Rate(30, timedelta(minutes=1))


@dataclass(frozen=True)
class Verdict:
    """What the person limit says of one command (`RateLimiter.person`)."""

    run: bool
    wait: timedelta | None = None  # not run: how long until the person's commands are taken again
    tell: bool = False  # not run, and the first since the person was last told: answer with `wait`


class RateLimiter:
    """Sliding-window counts per (person, limit key): a command's name or a command and variant."""

    def __init__(self, overrides: dict[str, Rate | None] | None = None) -> None:
        self.overrides = dict(overrides or {})
        self._runs: dict[tuple[str, str], deque[datetime]] = {}
        self._told: dict[str, datetime] = {}  # person -> until when their last "too many" answer holds

    def person(self, user_id: str, now: datetime, *, always: bool = False) -> Verdict:
        """Whether a command of `user_id` runs now under the limit on all their commands together.

        A command that runs is counted. Over the limit it does not run, and only the first one
        over it is answered (`tell`), saying when to try again; the rest stay unanswered until
        then. `always`: an acknowledgement or a consent answer, recorded and answered even over
        the limit (counted all the same): the team relies on those records, and a brake must not
        lose one.
        """
        rate = self.rate_for(ALL_COMMANDS, PERSON_RATE)
        if rate is None:
            return Verdict(True)
        runs = self._recent(user_id, ALL_COMMANDS, rate, now)
        if always or len(runs) < rate.count:
            runs.append(now)
            return Verdict(True)
        wait = runs[-rate.count] + rate.period - now
        told = self._told.get(user_id)
        if told is not None and now < told:
            return Verdict(False, wait)
        self._told[user_id] = now + wait
        return Verdict(False, wait, tell=True)

    def rate_for(self, key: str, declared: Rate | None) -> Rate | None:
        """The limit that holds for `key`: the configured one if there is one, else the declared one."""
        return self.overrides.get(key, declared)

    def wait(self, user_id: str, key: str, rate: Rate, now: datetime) -> timedelta | None:
        """How long `user_id` must wait before running `key` again; None when they may run it now."""
        runs = self._recent(user_id, key, rate, now)
        if len(runs) < rate.count:
            return None
        return runs[-rate.count] + rate.period - now

    def record(self, user_id: str, key: str, rate: Rate, now: datetime) -> None:
        """`user_id` ran `key` successfully at `now`."""
        self._recent(user_id, key, rate, now).append(now)

    def _recent(self, user_id: str, key: str, rate: Rate, now: datetime) -> deque[datetime]:
        runs = self._runs.setdefault((user_id, key), deque())
        while runs and runs[0] <= now - rate.period:
            runs.popleft()
        return runs
