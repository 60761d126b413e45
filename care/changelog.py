"""A document kept as its change log: the coordinated plan (`care.careplan`) and a meeting's minutes (`care.minutes`).

Both are records several services rely on, so nothing in them is rewritten: each edit is a
`Change` — its version, its kind, when, by whom, and its payload — stored once and never
altered, and the document people read is only the fold of its changes. What the two share
lives here, once: the change record and its JSON form for the store, the version a change
must follow, the snapshot's version / last change (`Versioned`), folding, and what an entry
holds (text of bounded length; an owner that is a lane or a person).

Pure, like the rest of `care`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from types import NoneType, UnionType
from typing import Any, Self, TypeVar, Union, get_args, get_origin, get_type_hints

from homeward.care.pathway import Pathway
from homeward.care.refusal import Refusal
from homeward.ids import is_user_id

#: Longest text (goal, action, note, reason) a person may write into a document; it is read in chat.
MAX_TEXT = 2000

C = TypeVar("C", bound="Change")
D = TypeVar("D")


@dataclass(frozen=True)
class Change:
    """One edit of a document, as stored: never changed or deleted once recorded.

    A document's own change class adds the fields of its payload (all with defaults).
    """

    version: int
    kind: str
    at: datetime
    by: str

    def to_record(self) -> dict[str, Any]:
        """A JSON-safe dict for the store: dates and times in ISO 8601, durations in seconds, tuples as lists."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, date):  # a datetime too
                value = value.isoformat()
            elif isinstance(value, timedelta):
                value = int(value.total_seconds())
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> Self:
        """The change that `to_record` wrote, each field read back as its declared type; a field the record
        lacks (or holds empty) takes its default."""
        hints = get_type_hints(cls)
        values: dict[str, Any] = {}
        for f in fields(cls):
            kind = _stored_as(hints[f.name])
            raw = data.get(f.name)
            if raw is None or (raw == "" and kind in (date, datetime)):
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    raise KeyError(f.name)
                continue
            values[f.name] = _read(kind, raw)
        return cls(**values)


def _stored_as(hint: Any) -> Any:
    """The type a field holds when it holds something (`date | None` is a date)."""
    if get_origin(hint) in (Union, UnionType):
        kinds = [k for k in get_args(hint) if k is not NoneType]
        return kinds[0] if len(kinds) == 1 else hint
    return hint


def _read(kind: Any, raw: Any) -> Any:
    if kind is datetime:
        return datetime.fromisoformat(raw)
    if kind is date:
        return date.fromisoformat(raw)
    if kind is timedelta:
        return timedelta(seconds=raw)
    if kind is int:
        return int(raw)
    if get_origin(kind) is tuple:
        return tuple(raw)
    return raw


class Versioned:
    """What a document's snapshot says of its history (its `changes`, oldest first)."""

    changes: tuple[Change, ...]

    @property
    def version(self) -> int:
        """0 for a document nobody has written yet; each change adds one."""
        return self.changes[-1].version if self.changes else 0

    @property
    def changed_at(self) -> datetime | None:
        return self.changes[-1].at if self.changes else None

    @property
    def changed_by(self) -> str | None:
        return self.changes[-1].by if self.changes else None


def follows(document: str, version: int, change: Change) -> None:
    """ValueError unless `change` is the next version after `version` (a stale or corrupt change)."""
    if change.version != version + 1:
        raise ValueError(f"{document} change version {change.version} does not follow version {version}")


def next_change(cls: type[C], after: int, kind: str, by: str, at: datetime, **payload: Any) -> C:
    """The change of `kind` that follows version `after`, made by `by` at `at` (an aware time)."""
    require_aware(at)
    return cls(version=after + 1, kind=kind, at=at, by=by, **payload)


def fold(changes: Iterable[C], apply: Callable[[D, C], D], empty: D) -> D:
    """The document the stored changes describe: each applied in version order, whatever order they come in."""
    document = empty
    for change in sorted(changes, key=lambda c: c.version):
        document = apply(document, change)
    return document


def require_aware(moment: datetime) -> None:
    """A document records instants: a time without its offset could be read in any zone."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a document's changes need aware datetimes")


def checked_text(text: str, document: str) -> str:
    """Text as written into a document, refused (`<document>.empty_text`, `.too_long`) when empty or too long."""
    if not text:
        raise Refusal(f"{document}.empty_text")
    if len(text) > MAX_TEXT:
        raise Refusal(f"{document}.too_long", limit=MAX_TEXT, length=len(text))
    return text


def owner_id(pathway: Pathway, owner: str, document: str) -> str:
    """Who an entry is for: a lane id (found by id, name or alias) or a well-formed Matrix user id;
    refused as `<document>.bad_user` or `<document>.unknown_lane` otherwise."""
    text = owner.strip()
    if text.startswith("@"):
        if not is_user_id(text):
            raise Refusal(f"{document}.bad_user", user=text)
        return text
    lane = pathway.find_lane(text) if text else None
    if lane is None:
        raise Refusal(f"{document}.unknown_lane", lane=text, lanes=", ".join(x.id for x in pathway.lanes))
    return lane.id
