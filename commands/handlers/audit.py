"""`!audit [from] [to]`: the case's audit trail as a CSV file, posted into the care room.

The file goes through the outbox as a FILE row: the sender uploads it encrypted as a
Matrix attachment (the room is end-to-end encrypted, so the media repository only ever
holds ciphertext) and posts it as `m.file`. The export is itself an audited read: its
`audit.exported` row is written after the file was built, so the file lists what was
there when it was asked for.

The file carries each row's hash and, in its last two rows, the heads of the case's two
hash chains (the audit trail and the consent answers, store/chain.py) and whether they
verify: a copy held in the room, against which a later change shows even if someone
recomputed the chain. It is safe to open in a spreadsheet: a cell that begins with `=`,
`+`, `-`, `@`, a tab or a carriage return — which Excel, LibreOffice and Google Sheets
would read as a formula — starts with a single quote instead (OWASP, "CSV Injection");
a Matrix id such as `@anna:example.org` is shown as `'@anna:example.org`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from homeward.care.permissions import COORDINATOR
from homeward.commands.arguments import date_arg
from homeward.commands.context import Context, Reply
from homeward.commands.registry import ANY_STATE, CASE_ROOM, Arg, CommandError, Section, command
from homeward.store import cases, chain
from homeward.store.cases import AuditRow
from homeward.store.chain import ChainState
from homeward.text import Markdown, code

COLUMNS = ("id", "at_utc", "at_local", "actor", "actor_lane", "action", "room_id", "event_id", "details", "hash")
MIMETYPE = "text/csv"
#: The `action` of the closing rows that carry the heads of the case's chains.
CHAIN_HEAD = {"audit": "chain.audit.head", "consent_answers": "chain.consent_answers.head"}
#: What a spreadsheet reads as the start of a formula (OWASP, CSV Injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    """A value as a CSV cell no spreadsheet runs as a formula.

    A leading = + - @ tab or CR gets a single quote before it.
    """
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def audit_csv(
    rows: Iterable[AuditRow], zone: ZoneInfo, heads: dict[str, ChainState] | None = None, now: datetime | None = None
) -> bytes:
    """The rows as CSV: a header, every field quoted, UTF-8 with a BOM (so Excel reads å, ä, ö, ø, æ).

    The chain heads follow the rows.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(
            [
                cell(value)
                for value in (
                    row.id,
                    _utc(row.at),
                    row.at.astimezone(zone).isoformat(timespec="seconds"),
                    row.actor,
                    row.actor_lane or "",
                    row.action,
                    row.room_id,
                    row.event_id or "",
                    row.details,
                    row.hash or "",
                )
            ]
        )
    for table, state in (heads or {}).items():
        details = {"rows": state.rows, "intact": state.broken is None}
        if state.broken is not None:
            details["first_broken_row"] = state.broken.row_id
        at = now or datetime.now(UTC)
        writer.writerow(
            [
                cell(value)
                for value in (
                    "",
                    _utc(at),
                    at.astimezone(zone).isoformat(timespec="seconds"),
                    "",
                    "",
                    CHAIN_HEAD[table],
                    "",
                    "",
                    json.dumps(details),
                    state.head,
                )
            ]
        )
    return buffer.getvalue().encode("utf-8-sig")


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def local_bounds(since: date | None, until: date | None, zone: ZoneInfo) -> tuple[datetime | None, datetime | None]:
    """Local dates (inclusive) as instants: from the start of `since` to the start of the day after `until`."""
    start = datetime.combine(since, time(0), zone) if since else None
    end = datetime.combine(until + timedelta(days=1), time(0), zone) if until else None
    return start, end


@command(
    "audit",
    args=[
        Arg("from", date_arg, optional=True, metavar="YYYY-MM-DD"),
        Arg("to", date_arg, optional=True, metavar="YYYY-MM-DD"),
    ],
    where=CASE_ROOM,
    rule=COORDINATOR,
    state=ANY_STATE,
    help_section=Section.DOCUMENTS,
)
async def audit(ctx: Context) -> Reply:
    """Upload the case's audit trail (optionally only the local dates from–to) as a CSV file."""
    room = ctx.care
    case, view = room.case, room.view
    since: date | None = ctx.args["from"]
    until: date | None = ctx.args["to"]
    if since and until and since > until:
        raise CommandError("audit.from_after_to", usage=True, since=since.isoformat(), until=until.isoformat())
    zone = ZoneInfo(view.pathway.timezone)
    rows = await cases.audit_rows(ctx.db, case.id, *local_bounds(since, until, zone))
    heads = await chain.verify_case(ctx.db, case.id)
    data = audit_csv(rows, zone, heads, ctx.now)
    filename = f"audit-{case.label}-{ctx.now.astimezone(zone):%Y%m%d}.csv"
    span = {"from": since.isoformat() if since else None, "to": until.isoformat() if until else None}
    chain_heads = {table: state.head for table, state in heads.items()}
    await room.queue_file(filename, MIMETYPE, data, audit={**span, "rows": len(rows), "chain_heads": chain_heads})
    await room.audit("audit.exported", **span, rows=len(rows))
    if since or until:
        period = Markdown(ctx.t("audit.period", since=span["from"] or "…", until=span["to"] or "…"))
    else:
        period = Markdown(ctx.t("audit.everything"))
    text = ctx.t("audit.exported", label=case.label, period=period, rows=len(rows), filename=code(filename))
    return ctx.ok(text, rows=len(rows), filename=filename)
