"""Working days, local wall-clock time and quiet hours for one country and time zone.

A family waiting for a prescription or a home-care visit counts in working days,
because that is when the hospital, the pharmacy and the municipality answer. This
module decides which days those are, turns "a date at a time of day" into an
instant without tripping over daylight saving time, and says when the bot should
hold its tongue (quiet hours).

What counts as a working day (``WorkingCalendar.is_working_day``):

* Monday to Friday, and
* not a public holiday of the country (``holidays`` package, category ``public``),
  and
* not a *de facto* day off where the package knows of them (category
  ``de_facto``). Today only Sweden has such days: Midsommarafton, Julafton and
  Nyårsafton. They are not public holidays by law, but offices, pharmacies and
  municipal services are closed, so a deadline or a reminder must not count on
  them.

Deliberately *not* days off:

* Norway's Julaften and Nyttårsaften: not public holidays; the public sector
  works until 12:00. A reminder there still reaches someone at work.
* Sweden's Skärtorsdagen (Maundy Thursday) and the other "afton" half days that
  the package puts in its ``bank`` / ``optional`` categories: ordinary, if short,
  working days in Sweden. (Norway's Skjærtorsdag *is* a public holiday.)
* Sundays are never taken from the package: the ``holidays`` Sweden/Norway
  entries can list every Sunday as a holiday (``include_sundays``); we switch that
  off and get weekends from the weekday instead, so ``holiday_name`` on an
  ordinary Sunday is ``None``.

Everything here is pure and synchronous; no Matrix, no SQL.
"""

from __future__ import annotations

import importlib.util
import math
import re
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import holidays
from holidays.registry import COUNTRIES, EntityLoader

from homeward.clock import time_zone

#: Countries whose ``holidays`` entry can list all Sundays as holidays; we turn that off.
_COUNTRIES_WITH_SUNDAY_OPTION = frozenset({"NO", "NOR", "SE", "SWE"})

#: Language for holiday names; fixed so names do not change with the server's locale.
DEFAULT_HOLIDAY_LANGUAGE = "en_US"


def _load_country_alone(country: str) -> None:
    """Import the one module of `country`'s calendar, not the package of every country beside it.

    The `holidays` package finds a country's class by importing `holidays.countries.<module>`, which
    first runs `holidays.countries/__init__.py`: it imports all of its ~280 countries (0.13 s, 8 MiB that
    stay). The country's module, loaded on its own under the same name, is what that import then finds
    (`sys.modules`), so `holidays.country_holidays` makes the same calendar from the same class. When
    the package is already imported, or the country is not in the registry, nothing is done here."""
    loader = getattr(holidays, country, None)
    if "holidays.countries" in sys.modules or not isinstance(loader, EntityLoader):
        return
    name = loader.module_name
    if name in sys.modules or name.rpartition(".")[2] not in COUNTRIES:
        return
    source = Path(holidays.__file__).parent / "countries" / f"{name.rpartition('.')[2]}.py"
    spec = importlib.util.spec_from_file_location(name, source)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]  # the package's own import does it then
        raise


def _plain_date(d: date) -> date:
    """Refuse datetimes where a date is meant.

    ``datetime`` is a subclass of ``date``; passing a UTC instant would silently
    use the UTC calendar date, which near midnight is the wrong local day.
    """
    if isinstance(d, datetime):
        raise TypeError("pass a date, not a datetime; convert with .astimezone(calendar.tz).date()")
    return d


def _require_aware(dt: datetime) -> None:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"datetime must be timezone-aware, got naive {dt!r}")


class WorkingCalendar:
    """Working days and local time for one country (ISO code) and one IANA time zone."""

    def __init__(self, country: str, timezone: str, language: str = DEFAULT_HOLIDAY_LANGUAGE) -> None:
        self.country = country.upper()
        self._tz = time_zone(timezone)
        options: dict[str, Any] = {}  # country_holidays(**options: Any)
        if self.country in _COUNTRIES_WITH_SUNDAY_OPTION:
            options["include_sundays"] = False
        _load_country_alone(self.country)
        try:
            probe = holidays.country_holidays(self.country)
        except NotImplementedError as exc:
            raise ValueError(f"the holidays package does not know country {country!r}") from exc
        categories = ["public"]
        if "de_facto" in probe.supported_categories:
            categories.append("de_facto")
        # Years are filled in lazily by the package as dates are looked up.
        self._holidays = holidays.country_holidays(self.country, categories=categories, language=language, **options)

    def __repr__(self) -> str:
        return f"WorkingCalendar({self.country!r}, {self._tz.key!r})"

    @property
    def tz(self) -> ZoneInfo:
        """The calendar's time zone; compute wall-clock times in it."""
        return self._tz

    def holiday_name(self, d: date) -> str | None:
        """Name of the public holiday or de facto day off on ``d``, else ``None``.

        Lets the bot explain a shifted deadline ("17 May is Constitution Day").
        Plain weekends have no name.
        """
        return self._holidays.get(_plain_date(d))

    def is_working_day(self, d: date) -> bool:
        """Monday–Friday and neither a public holiday nor a de facto day off."""
        d = _plain_date(d)
        return d.weekday() < 5 and d not in self._holidays

    def next_working_day(self, d: date, include_today: bool = False) -> date:
        """The first working day after ``d``; ``d`` itself if ``include_today`` and it is one."""
        d = _plain_date(d)
        if include_today and self.is_working_day(d):
            return d
        d += timedelta(days=1)
        while not self.is_working_day(d):
            d += timedelta(days=1)
        return d

    def add_working_days(self, d: date, n: int) -> date:
        """The ``n``-th working day after ``d`` (before it if ``n`` is negative).

        ``d`` itself is never counted, so Friday + 1 is Monday and Saturday + 1 is
        also Monday. ``n == 0`` means "on ``d`` if that is a working day, else the
        next one" – the earliest day someone can act.
        """
        d = _plain_date(d)
        if n == 0:
            return self.next_working_day(d, include_today=True)
        step = timedelta(days=1 if n > 0 else -1)
        remaining = abs(n)
        while remaining:
            d += step
            if self.is_working_day(d):
                remaining -= 1
        return d

    def local(self, d: date, t: time) -> datetime:
        """``d`` at wall-clock ``t`` in the calendar's zone, as an aware datetime.

        DST-safe by these rules:

        * A time that does not exist (spring forward; 02:30 on the last Sunday of
          March in Europe/Oslo) moves forward to the first valid instant, the moment
          the clocks jump (03:00 local). A reminder should come late, not early.
        * A time that happens twice (fall back; 02:30 on the last Sunday of October)
          is the first occurrence (``fold=0``, still summer time).
        """
        d = _plain_date(d)
        if t.tzinfo is not None:
            raise ValueError("pass a naive time of day; it is read in the calendar's zone")
        wall = datetime.combine(d, t.replace(fold=0), tzinfo=self._tz)
        utc = wall.astimezone(UTC)
        if utc.astimezone(self._tz).replace(tzinfo=None) == wall.replace(tzinfo=None):
            return utc.astimezone(self._tz)
        return self._end_of_gap(wall)

    def _end_of_gap(self, wall: datetime) -> datetime:
        """The instant the clocks jump over the nonexistent wall time ``wall``.

        zoneinfo reads a nonexistent time with the offset before the jump (fold=0)
        or after it (fold=1); the jump lies between those two instants. Transitions
        are on whole seconds, so a binary search to one second finds it exactly.
        """
        first = wall.replace(fold=1).astimezone(UTC)
        second = wall.replace(fold=0).astimezone(UTC)
        earlier, later = min(first, second), max(first, second)
        new_offset = later.astimezone(self._tz).utcoffset()
        lo = math.floor(earlier.timestamp())  # still the old offset
        hi = math.ceil(later.timestamp())  # already the new offset
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if datetime.fromtimestamp(mid, self._tz).utcoffset() == new_offset:
                hi = mid
            else:
                lo = mid
        return datetime.fromtimestamp(hi, self._tz)


@dataclass(frozen=True)
class QuietHours:
    """When the bot must not post reminders in a room.

    ``start``–``end`` is a nightly window in the calendar's local time; it may cross
    midnight (20:00–08:00). ``start == end`` means no nightly window (that is how
    ``QuietHours.off()`` is built). With ``weekends=True`` every non-working day is
    quiet all day: Saturdays, Sundays *and* public holidays / de facto days off.
    Holidays count because a family on 17 May or Julafton is in the same
    situation as on a Sunday, and nobody at the hospital or municipality would act
    on the reminder until the next working day anyway.
    """

    start: time = time(20, 0)
    end: time = time(8, 0)
    weekends: bool = True

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("quiet hours are local times of day; pass naive times")

    @classmethod
    def off(cls) -> QuietHours:
        """Never quiet: no nightly window and weekends allowed."""
        return cls(start=time(0, 0), end=time(0, 0), weekends=False)

    @property
    def is_off(self) -> bool:
        return self.start == self.end and not self.weekends

    def _in_window(self, t: time) -> bool:
        t = t.replace(tzinfo=None, fold=0)
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end

    def is_quiet(self, dt: datetime, calendar: WorkingCalendar) -> bool:
        """Whether ``dt`` (any zone) falls in quiet time in the calendar's local time."""
        _require_aware(dt)
        local = dt.astimezone(calendar.tz)
        if self.weekends and not calendar.is_working_day(local.date()):
            return True
        return self._in_window(local.time())

    def next_allowed(self, dt: datetime, calendar: WorkingCalendar) -> datetime:
        """``dt`` itself if not quiet, else the first non-quiet instant after it.

        The result is in ``dt``'s time zone. Friday 21:00 with the defaults gives
        Monday 08:00 (or Tuesday 08:00 if Monday is a holiday).
        """
        _require_aware(dt)
        if not self.is_quiet(dt, calendar):
            return dt
        local = dt.astimezone(calendar.tz)
        # Each step jumps to a boundary strictly later than ``local``; a year of
        # steps without a free instant means no working day exists at all.
        for _ in range(800):
            day = local.date()
            if self.weekends and not calendar.is_working_day(day):
                local = calendar.local(day + timedelta(days=1), time(0, 0))
            elif self._in_window(local.time()):
                crosses_midnight = self.start > self.end
                if crosses_midnight and local.time() >= self.start:
                    local = calendar.local(day + timedelta(days=1), self.end)
                else:
                    local = calendar.local(day, self.end)
            if not self.is_quiet(local, calendar):
                return local.astimezone(dt.tzinfo)
        raise RuntimeError(f"no allowed time found after {dt.isoformat()} for {calendar!r}")


_QUIET_RE = re.compile(r"^(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})$")


def parse_quiet(text: str) -> QuietHours:
    """Parse the room setting: ``20:00-08:00`` (weekends and holidays quiet too) or ``off``."""
    cleaned = text.strip().lower()
    if cleaned == "off":
        return QuietHours.off()
    usage = "Quiet hours must look like '20:00-08:00' (start-end, 24-hour clock) or 'off'"
    match = _QUIET_RE.match(cleaned)
    if not match:
        raise ValueError(f"{usage}; got {text!r}.")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if not (h1 < 24 and h2 < 24 and m1 < 60 and m2 < 60):
        raise ValueError(f"{usage}; {text!r} is not a valid time of day.")
    start, end = time(h1, m1), time(h2, m2)
    if start == end:
        raise ValueError(f"{usage}; start and end are the same ({text!r}). Use 'off' for never quiet.")
    return QuietHours(start=start, end=end)
