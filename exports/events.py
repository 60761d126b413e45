"""The open event log (`care.events`) as files: CSV and NDJSON, and the JSON Schema of a row.

CSV: UTF-8, a header row of the documented columns, every field quoted, empty for a
value that does not apply; a cell a spreadsheet would take for a formula gets a quote in
front (none of the columns can hold one, but the rule is the same as for every CSV the bot
writes). NDJSON: one JSON object per line, `null` for a value that does not apply. Both
carry the schema version in every row (`schema`), so a file read years later says what it is.
`docs/EVENTS.md` documents the columns; `docs/events.schema.json` is `EVENT_SCHEMA`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any

from homeward.care.events import COLUMNS, EVENT_KINDS, SCHEMA, Event
from homeward.care.pathway import REASON_CODES

_ID = {"type": ["string", "null"], "pattern": "^[A-Za-z0-9._-]+$"}
_TIME = {"type": ["string", "null"], "format": "date-time", "pattern": "Z$"}

#: The JSON Schema (2020-12) of one row of the event log, in NDJSON and, read as text, in CSV.
EVENT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "urn:homeward:schema:events:1.0",
    "title": "Homeward event log row",
    "description": "One thing that happened in a case, with no personal data (docs/EVENTS.md).",
    "type": "object",
    "additionalProperties": False,
    "required": list(COLUMNS),
    "properties": {
        "schema": {"const": SCHEMA},
        "case": {"type": "string", "pattern": "^case-[0-9a-f]{16}$"},
        "pathway": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
        "pathway_version": {"type": ["string", "null"]},
        "country": {"type": ["string", "null"], "pattern": "^[A-Z]{2}$"},
        "event": {"enum": list(EVENT_KINDS)},
        "at": {**_TIME, "type": "string"},
        "phase": _ID,
        "item": _ID,
        "lane": _ID,
        "step": {"enum": ["task", "send", "ack", None]},
        "due": _TIME,
        "done": _TIME,
        "late_by_hours": {"type": ["number", "null"]},
        "reason": _ID,
        "reason_code": {"enum": [*REASON_CODES, None]},
        "detail": _ID,
        "value": {"type": ["number", "null"]},
    },
}


def _cell(value: Any) -> str:
    """A text cell a spreadsheet cannot run as a formula; a number stays a number (a negative one too)."""
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def events_csv(events: Iterable[Event]) -> bytes:
    """The events as CSV (UTF-8, header row, every field quoted)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for event in events:
        row = event.row()
        writer.writerow([_cell(row[column]) for column in COLUMNS])
    return buffer.getvalue().encode("utf-8")


def events_ndjson(events: Iterable[Event]) -> bytes:
    """The events as newline-delimited JSON, one object per line."""
    return "".join(json.dumps(event.row(), ensure_ascii=False) + "\n" for event in events).encode("utf-8")


FORMATS = {"csv": ("csv", "text/csv", events_csv), "ndjson": ("ndjson", "application/x-ndjson", events_ndjson)}
