"""The fixed wording of the exports in one language, and how that language writes dates.

The words are in ``templates/exports/words.toml`` (nb, sv, en); the plan's own words
(Huvudmål, Delmål, Insatser…) come with the document, from the pathway.
"""

from __future__ import annotations

import tomllib
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from homeward.exports.document import LANGUAGES
from homeward.messages.catalog import TEMPLATES_DIR
from homeward.messages.speaker import local_number

WORDS_FILE = TEMPLATES_DIR / "exports" / "words.toml"
#: `datetime` by another name: inside `Words` that name is its method `datetime` (the templates call it).
Moment = datetime


@lru_cache(maxsize=1)
def _all_words() -> dict[str, dict[str, Any]]:
    table = tomllib.loads(WORDS_FILE.read_text(encoding="utf-8"))
    missing = [language for language in LANGUAGES if language not in table]
    if missing:
        raise RuntimeError(f"{WORDS_FILE}: no wording for {', '.join(missing)}")
    return table


class Words:
    """The fixed wording of one language, and how that language writes dates."""

    def __init__(self, language: str, zone: Any) -> None:
        self.language = language
        self.zone = zone
        self._table = _all_words()[language]
        self._fallback = _all_words()["en"]

    def __call__(self, key: str, /, **values: Any) -> str:
        text = self._lookup(self._table, key)
        if text is None:
            text = self._lookup(self._fallback, key)
        if text is None:
            raise KeyError(f"no export wording {key!r}")
        return text.format(**values) if values else text

    @staticmethod
    def _lookup(table: dict[str, Any], key: str) -> str | None:
        node: Any = table
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node if isinstance(node, str) else None

    def date(self, value: date | datetime | None) -> str:
        if value is None:
            return ""
        if isinstance(value, datetime):
            value = value.astimezone(self.zone).date()
        return value.strftime(self("date_format"))

    def time(self, value: datetime) -> str:
        return value.astimezone(self.zone).strftime("%H:%M")

    def datetime(self, value: datetime | None) -> str:
        """A moment in the document's time zone, the way the language writes it."""
        if value is None:
            return ""
        return self("datetime", date=self.date(value), time=self.time(value))

    def span(self, start: Moment, minutes: int) -> str:
        """'2026-01-20 kl. 10:00–11:30' (the end on another day gets its own date)."""
        end = start + timedelta(minutes=minutes)
        if end.astimezone(self.zone).date() == start.astimezone(self.zone).date():
            return f"{self.datetime(start)}–{self.time(end)}"
        return f"{self.datetime(start)} – {self.datetime(end)}"

    def number(self, value: float, decimals: int = 0) -> str:
        """A number as the language writes it: 18 600 and 2,5 in nb and sv; 18,600 and 2.5 in en."""
        return local_number(value, self.language, decimals)

    def answer(self, answer: str) -> str:
        """A recorded consent answer in words; the command words are accepted too."""
        state = _ANSWER_STATE.get(answer.strip().casefold(), answer)
        return self(f"consent_state.{state}") if state in _STATES else answer


_ANSWER_STATE = {
    "yes": "given", "ja": "given", "given": "given",
    "no": "refused", "nej": "refused", "nei": "refused", "refused": "refused",
    "revoke": "withdrawn", "withdraw": "withdrawn", "withdrawn": "withdrawn",
}  # fmt: skip
_STATES = ("pending", "given", "refused", "withdrawn")


def words(language: str, timezone: str = "UTC") -> Words:
    """The wording of one language (for callers that label an export, e.g. a file name)."""
    return Words(language, ZoneInfo(timezone))
