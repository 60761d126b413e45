"""Who writes a message, and how a moment reads to the people of a pathway."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from homeward.care.pathway import Pathway


class Speaker(Protocol):
    """Who writes: a room's language (`t`) at one moment (`now`)."""

    now: datetime

    def t(self, key: str, /, **values: Any) -> str: ...


def local_text(moment: date | datetime | None, pathway: Pathway) -> str:
    """A date or time as people read it, in the pathway's time zone."""
    if moment is None:
        return "—"
    if isinstance(moment, datetime):
        return moment.astimezone(ZoneInfo(pathway.timezone)).strftime("%Y-%m-%d %H:%M")
    return moment.isoformat()


def local_number(value: float, language: str, decimals: int = 0) -> str:
    """A number as the language writes it: 18 600 and 2,5 in nb and sv; 18,600 and 2.5 in en."""
    text = f"{value:,.{decimals}f}"
    if language in ("nb", "sv"):
        text = text.replace(",", "\u00a0").replace(".", ",")
    return text
