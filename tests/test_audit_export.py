"""Specification of the audit export's file (commands/handlers/audit.py) and its m.file event (bot/sender.py)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from homeward.bot.sender import file_message
from homeward.commands.handlers.audit import COLUMNS, audit_csv, local_bounds
from homeward.store.cases import AuditRow
from homeward.store.chain import Break, ChainState

OSLO = ZoneInfo("Europe/Oslo")


def test_the_csv_has_a_bom_quotes_every_field_and_keeps_nordic_letters() -> None:
    row = AuditRow(
        7,
        1,
        "!r:x",
        datetime(2026, 7, 1, 22, 30, tzinfo=UTC),
        "@anna:x",
        None,
        "item.acknowledged",
        json.dumps({"note": "Ringt, «ok»; æøå"}, ensure_ascii=False),
        "$e",
    )
    data = audit_csv([row], OSLO)
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert text.splitlines()[0] == ",".join(f'"{c}"' for c in COLUMNS)
    assert text.splitlines()[1].startswith('"7","2026-07-01T22:30:00Z","2026-07-02T00:30:00+02:00","\'@anna:x","",')
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert json.loads(parsed[0]["details"]) == {"note": "Ringt, «ok»; æøå"}


def test_local_dates_are_whole_local_days() -> None:
    start, end = local_bounds(date(2026, 3, 29), date(2026, 3, 29), OSLO)  # daylight saving starts that night
    assert start is not None and end is not None
    assert start.astimezone(UTC) == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    assert end.astimezone(UTC) == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)
    assert local_bounds(None, None, OSLO) == (None, None)


CONTENT = {
    "filename": "audit-Sjostjerne-20261201.csv",
    "mimetype": "text/csv",
    "data_b64": "",
    "body": "audit-Sjostjerne-20261201.csv",
    "info": {"mimetype": "text/csv", "size": 3},
    "homeward.audit": {"rows": 2},
}


def test_an_encrypted_file_event_carries_the_mxc_uri_only_inside_its_file_object() -> None:
    keys = {"v": "v2", "key": {"k": "K", "alg": "A256CTR"}, "iv": "IV", "hashes": {"sha256": "H"}}
    message = file_message(CONTENT, "mxc://x/abc", 3, keys)
    assert message["msgtype"] == "m.file" and message["body"] == message["filename"] == CONTENT["filename"]
    assert "url" not in message
    assert message["file"] == {**keys, "url": "mxc://x/abc"}
    assert message["info"] == {"mimetype": "text/csv", "size": 3}
    assert message["homeward.audit"] == {"rows": 2}
    assert "data_b64" not in message


def test_a_plain_file_event_has_a_top_level_url() -> None:
    message = file_message(CONTENT, "mxc://x/abc", 3, None)
    assert message["url"] == "mxc://x/abc" and "file" not in message


def test_no_cell_of_the_csv_starts_a_spreadsheet_formula() -> None:
    hostile = AuditRow(
        8,
        1,
        "@SUM(A1:A9)",
        datetime(2026, 7, 1, 8, 0, tzinfo=UTC),
        '=HYPERLINK("http://x","klikk")',
        "+47 22 33",
        "-2+3",
        "\tkommune",
        "\r=1+1",
    )
    text = audit_csv([hostile], OSLO).decode("utf-8-sig")
    cells = next(csv.DictReader(io.StringIO(text)))
    assert cells["actor"] == '\'=HYPERLINK("http://x","klikk")'
    assert cells["actor_lane"] == "'+47 22 33" and cells["action"] == "'-2+3" and cells["room_id"] == "'@SUM(A1:A9)"
    assert cells["event_id"] == "'\r=1+1" and cells["details"] == "'\tkommune"
    assert cells["id"] == "8" and cells["at_utc"] == "2026-07-01T08:00:00Z"  # harmless cells stay as they are
    assert not [v for v in cells.values() if v[:1] in ("=", "+", "-", "@", "\t", "\r")]


def test_the_csv_ends_with_the_heads_of_the_case_s_chains() -> None:
    row = AuditRow(
        3,
        1,
        "!r:x",
        datetime(2026, 7, 1, 8, 0, tzinfo=UTC),
        "@anna:x",
        "sykehus",
        "case.opened",
        "{}",
        "$e",
        "ab" * 32,
    )
    heads = {
        "audit": ChainState(12, "cd" * 32, None),
        "consent_answers": ChainState(2, "ef" * 32, Break("consent_answers", 5, 1, "changed")),
    }
    rows = list(
        csv.DictReader(io.StringIO(audit_csv([row], OSLO, heads, datetime(2026, 7, 2, tzinfo=UTC)).decode("utf-8-sig")))
    )
    assert rows[0]["hash"] == "ab" * 32
    assert [(r["action"], r["hash"], json.loads(r["details"])) for r in rows[1:]] == [
        ("chain.audit.head", "cd" * 32, {"rows": 12, "intact": True}),
        ("chain.consent_answers.head", "ef" * 32, {"rows": 2, "intact": False, "first_broken_row": 5}),
    ]
