"""Cases, their members, dates, items and acknowledgements; and the audit trail.

Loading gives the care logic a `CaseView`; every write is one small function, called
inside the transaction of the command that caused it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from homeward.care.case import Ack, CaseState, CaseView, ConsentRound, ExtraTask, ItemRecord, Membership
from homeward.care.pathway import Item, Pathway
from homeward.store import chain, delays
from homeward.store.changes import bookkeeping, changes_case
from homeward.store.rows import inserted_id
from homeward.store.sql import Connection, Row
from homeward.store.state import RoomInfo


@dataclass(frozen=True)
class CaseRow:
    id: int
    room_id: str | None
    create_outbox: int
    pathway_id: str
    label: str
    phase_id: str
    opened_by: str
    reactions: bool
    quiet: str | None = None  # the room's quiet hours ("20:00-08:00", "off"), None for the default
    state: CaseState = "open"
    closed_at: datetime | None = None
    closed_reason: str | None = None
    opened_at: datetime | None = None


def _case(row: Row) -> CaseRow:
    return CaseRow(
        row["id"],
        row["room_id"],
        row["create_outbox"],
        row["pathway_id"],
        row["label"],
        row["phase_id"],
        row["opened_by"],
        bool(row["reactions"]),
        row["quiet"],
        row["state"],
        datetime.fromisoformat(row["closed_at"]) if row["closed_at"] else None,
        row["closed_reason"],
        datetime.fromisoformat(row["opened_at"]) if row["opened_at"] else None,
    )


@dataclass(frozen=True)
class LoadedCase:
    """A case with everything the care logic needs of it, and the message its checklist edits."""

    case: CaseRow
    view: CaseView
    checklist: int | None  # outbox row of the current phase's checklist, if it was posted


# One statement loads a room, its case and the whole view: the unit of work of an event
# reads the store once (each sub-select is a JSON array of that table's rows).
CASE_COLUMNS = """
    c.id, c.room_id, c.create_outbox, c.pathway_id, c.label, c.phase_id, c.opened_by, c.reactions, c.quiet,
    c.child_answers, c.state, c.closed_at, c.closed_reason, c.opened_at,
    (SELECT json_group_array(json_array(user_id, lane_id, coordinator)) FROM members WHERE case_id = c.id) AS j_members,
    (SELECT json_group_array(json_array(date_id, value)) FROM case_dates WHERE case_id = c.id) AS j_dates,
    (SELECT json_group_array(json_array(item_id, sent_at, sent_by, assigned_to))
       FROM items WHERE case_id = c.id) AS j_items,
    (SELECT json_group_array(json_array(item_id, lane_id, user_id, at, on_behalf, note, id))
       FROM acks WHERE case_id = c.id) AS j_acks,
    (SELECT json_group_array(json_array(item_id, phase_id, lane_id, title, due, created_at, id))
       FROM extra_tasks WHERE case_id = c.id) AS j_extra,
    (SELECT outbox_id FROM checklists WHERE case_id = c.id AND phase_id = c.phase_id) AS checklist_outbox,
    (SELECT json_group_array(json_array(consent_id, round, started_at))
       FROM consent_rounds WHERE case_id = c.id) AS j_rounds,
    (SELECT json_group_array(json_array(consent_id, round, user_id, late))
       FROM consent_askees WHERE case_id = c.id) AS j_askees
"""


async def load_room(
    db: Connection, room_id: str, pathways: dict[str, Pathway]
) -> tuple[RoomInfo | None, LoadedCase | None]:
    """The room as the bot knows it and, for a care room, its case: one read."""
    async with db.execute(
        f"SELECT r.kind AS room_kind, r.language AS room_language, {CASE_COLUMNS}"
        " FROM rooms r LEFT JOIN cases c ON c.room_id = r.room_id WHERE r.room_id = ?",
        (room_id,),
    ) as cur:
        row = await cur.fetchone()
    if row is None:
        return None, None
    info = RoomInfo(room_id, row["room_kind"], row["room_language"])
    if row["id"] is None:
        return info, None
    loaded = loaded_case(row, pathways)
    loaded.view.reasons = await delays.current_reasons(db, loaded.case.id)
    return info, loaded


async def load_case(db: Connection, case_id: int, pathways: dict[str, Pathway]) -> LoadedCase:
    """A case by id (a reminder's, or again after a change): one read."""
    async with db.execute(f"SELECT {CASE_COLUMNS} FROM cases c WHERE c.id = ?", (case_id,)) as cur:
        row = await cur.fetchone()
    if row is None:
        raise KeyError(f"no case {case_id}")
    loaded = loaded_case(row, pathways)
    loaded.view.reasons = await delays.current_reasons(db, case_id)
    return loaded


def loaded_case(row: Row, pathways: dict[str, Pathway]) -> LoadedCase:
    case = _case(row)
    pathway = pathways[case.pathway_id]
    members = {
        user: Membership(user, lane, bool(coordinator)) for user, lane, coordinator in json.loads(row["j_members"])
    }
    dates = {date_id: _parse_when(value) for date_id, value in json.loads(row["j_dates"])}
    records: dict[str, ItemRecord] = {}
    for item_id, sent_at, sent_by, assigned_to in json.loads(row["j_items"]):
        records[item_id] = ItemRecord(datetime.fromisoformat(sent_at) if sent_at else None, sent_by, assigned_to)
    for item_id, lane, user, at, on_behalf, note, _ in sorted(json.loads(row["j_acks"]), key=lambda a: (a[3], a[6])):
        records.setdefault(item_id, ItemRecord()).acks.append(
            Ack(lane, user, datetime.fromisoformat(at), bool(on_behalf), note)
        )
    extra: dict[str, ExtraTask] = {}
    for item_id, phase_id, lane, title, due, _, _ in sorted(json.loads(row["j_extra"]), key=lambda e: (e[5], e[6])):
        item = Item(id=item_id, kind="task", title=title[:120], text=title, mandatory=False, lane=lane)
        extra[item_id] = ExtraTask(item, phase_id, datetime.fromisoformat(due) if due else None)
    view = CaseView(
        pathway=pathway,
        label=case.label,
        phase_id=case.phase_id,
        dates=dates,
        members=members,
        records=records,
        extra=extra,
        state=case.state,
        closed_at=case.closed_at,
        closed_reason=case.closed_reason,
        child_answers=bool(row["child_answers"]),
        consent_rounds=consent_rounds(row["j_rounds"], row["j_askees"]),
    )
    return LoadedCase(case, view, row["checklist_outbox"])


def consent_rounds(j_rounds: str | None, j_askees: str | None) -> dict[str, ConsentRound]:
    """Each consent's current (latest) round with its askees, from the loader's JSON arrays."""
    latest: dict[str, tuple[int, str]] = {}
    for consent_id, number, started_at in json.loads(j_rounds or "[]"):
        if consent_id not in latest or number > latest[consent_id][0]:
            latest[consent_id] = (number, started_at)
    asked: dict[str, set[str]] = {}
    added: dict[str, set[str]] = {}
    for consent_id, number, user_id, late in json.loads(j_askees or "[]"):
        if consent_id in latest and latest[consent_id][0] == number:
            (added if late else asked).setdefault(consent_id, set()).add(user_id)
    return {
        consent_id: ConsentRound(
            consent_id,
            number,
            datetime.fromisoformat(started_at),
            frozenset(asked.get(consent_id, ())),
            frozenset(added.get(consent_id, ())),
        )
        for consent_id, (number, started_at) in latest.items()
    }


async def phase_history(db: Connection, case_id: int) -> list[tuple[str, datetime]]:
    """When the case entered each phase: the first at its opening, then each `!phase next` (from the audit trail)."""
    async with db.execute(
        "SELECT c.opened_at, c.phase_id,"
        " (SELECT json_group_array(json_array(a.id, a.at, json_extract(a.details, '$.previous'),"
        " json_extract(a.details, '$.phase')))"
        " FROM audit a WHERE a.case_id = c.id AND a.action = 'phase.changed') AS j_phases"
        " FROM cases c WHERE c.id = ?",
        (case_id,),
    ) as cur:
        row = await cur.fetchone()
    if row is None:
        raise KeyError(f"no case {case_id}")
    return history_of(row["opened_at"], row["phase_id"], row["j_phases"])


def history_of(opened_at: str, phase_id: str, changes_json: str) -> list[tuple[str, datetime]]:
    """The phase history from a case's opening and its `phase.changed` audit rows.

    `changes_json` is what the JSON sub-select gives.
    """
    changes = sorted(json.loads(changes_json), key=lambda c: c[0])
    first = changes[0][2] if changes else phase_id
    history = [(first, datetime.fromisoformat(opened_at))]
    history.extend((phase, datetime.fromisoformat(at)) for _, at, _, phase in changes)
    return history


#: The audit actions of `!case close` and `!case reopen` (commands.handlers.cases): the statistics'
#: 30-day re-openings read them.
CLOSING_ACTIONS = {"case.closed": "closed", "case.reopened": "reopened"}


@dataclass(frozen=True)
class CaseHistory:
    """A case with when it opened, entered each phase and was closed or reopened: what the statistics need."""

    loaded: LoadedCase
    opened_at: datetime
    phases: list[tuple[str, datetime]]
    closings: list[tuple[str, datetime]]


async def coordinated_case_rows(
    db: Connection,
    user_id: str,
    pathway_id: str | None = None,
) -> list[Row]:
    """Every case `user_id` coordinates (of one pathway, if given) with its history, as rows: one read.

    Turning a thousand rows into case views takes a moment, so `case_histories` does that
    apart (the caller runs it in a worker thread).
    """
    closing = ", ".join(f"'{action}'" for action in CLOSING_ACTIONS)
    query = (
        f"SELECT {CASE_COLUMNS},"
        " (SELECT json_group_array(json_array(a.id, a.at, json_extract(a.details, '$.previous'),"
        " json_extract(a.details, '$.phase')))"
        "   FROM audit a WHERE a.case_id = c.id AND a.action = 'phase.changed') AS j_phases,"
        " (SELECT json_group_array(json_array(a.id, a.at, a.action))"
        f"   FROM audit a WHERE a.case_id = c.id AND a.action IN ({closing})) AS j_closings"
        " FROM cases c JOIN members m ON m.case_id = c.id AND m.user_id = ? AND m.coordinator = 1"
        " WHERE c.room_id IS NOT NULL" + (" AND c.pathway_id = ?" if pathway_id else "") + " ORDER BY c.id"
    )
    async with db.execute(query, (user_id, pathway_id) if pathway_id else (user_id,)) as cur:
        return list(await cur.fetchall())


def case_histories(rows: list[Row], pathways: dict[str, Pathway]) -> list[CaseHistory]:
    """The rows of `coordinated_case_rows` as cases with their history.

    Cases of a pathway no longer configured are left out.
    """
    found: list[CaseHistory] = []
    for row in rows:
        if row["pathway_id"] not in pathways:
            continue
        closings = [
            (CLOSING_ACTIONS[action], datetime.fromisoformat(at))
            for _, at, action in sorted(json.loads(row["j_closings"]), key=lambda c: c[0])
        ]
        found.append(
            CaseHistory(
                loaded_case(row, pathways),
                datetime.fromisoformat(row["opened_at"]),
                history_of(row["opened_at"], row["phase_id"], row["j_phases"]),
                closings,
            )
        )
    return found


@changes_case
async def open_case(
    db: Connection,
    *,
    pathway_id: str,
    label: str,
    phase_id: str,
    opened_by: str,
    opened_in: str,
    create_outbox: int,
    now: datetime,
) -> int:
    cur = await db.execute(
        "INSERT INTO cases (pathway_id, label, phase_id, opened_by, opened_at, opened_in, create_outbox) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (pathway_id, label, phase_id, opened_by, now.isoformat(), opened_in, create_outbox),
    )
    return inserted_id(cur)


@changes_case
async def bind_room(db: Connection, create_outbox: int, room_id: str) -> int | None:
    """Record the room the homeserver created for a case; the case id, if it was one."""
    await db.execute("UPDATE cases SET room_id = ? WHERE create_outbox = ?", (room_id, create_outbox))
    async with db.execute("SELECT id FROM cases WHERE create_outbox = ?", (create_outbox,)) as cur:
        row = await cur.fetchone()
    return row["id"] if row else None


@changes_case
async def set_phase(db: Connection, case_id: int, phase_id: str) -> None:
    await db.execute("UPDATE cases SET phase_id = ? WHERE id = ?", (phase_id, case_id))


@changes_case
async def close(db: Connection, case_id: int, by: str, reason: str, now: datetime) -> None:
    await db.execute(
        "UPDATE cases SET state = 'closed', closed_at = ?, closed_by = ?, closed_reason = ? WHERE id = ?",
        (now.isoformat(), by, reason, case_id),
    )


@changes_case
async def reopen(db: Connection, case_id: int) -> None:
    """Open again; when and why it was closed stays in the audit trail."""
    await db.execute(
        "UPDATE cases SET state = 'open', closed_at = NULL, closed_by = NULL, closed_reason = NULL WHERE id = ?",
        (case_id,),
    )


@changes_case
async def set_reactions(db: Connection, case_id: int, enabled: bool) -> None:
    await db.execute("UPDATE cases SET reactions = ? WHERE id = ?", (int(enabled), case_id))


@changes_case
async def put_member(
    db: Connection, case_id: int, user_id: str, lane: str | None, coordinator: bool, by: str, now: datetime
) -> None:
    await db.execute(
        "INSERT INTO members (case_id, user_id, lane_id, coordinator, added_by, added_at) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (case_id, user_id) DO UPDATE SET lane_id = excluded.lane_id, coordinator = excluded.coordinator",
        (case_id, user_id, lane, int(coordinator), by, now.isoformat()),
    )


@changes_case
async def set_invite_row(db: Connection, case_id: int, user_id: str, outbox_id: int) -> None:
    """The outbox row that invites `user_id`: what they can read of the room starts there."""
    await db.execute(
        "UPDATE members SET invite_outbox = ? WHERE case_id = ? AND user_id = ?", (outbox_id, case_id, user_id)
    )


async def invite_rows(db: Connection, case_id: int) -> dict[str, int | None]:
    """Each member's invite row (None: invited before it was recorded, or the opener, there from the start)."""
    async with db.execute("SELECT user_id, invite_outbox FROM members WHERE case_id = ?", (case_id,)) as cur:
        return {row["user_id"]: row["invite_outbox"] for row in await cur.fetchall()}


async def invited_after(db: Connection, case_id: int, outbox_id: int) -> bool:
    """Whether a member of the case was invited after row `outbox_id` was queued (so cannot read what it sent)."""
    async with db.execute(
        "SELECT 1 FROM members WHERE case_id = ? AND invite_outbox > ? LIMIT 1", (case_id, outbox_id)
    ) as cur:
        return await cur.fetchone() is not None


async def sent_row(db: Connection, case_id: int, item_id: str) -> int | None:
    """The outbox row that sent the item (a notice), if it was sent."""
    async with db.execute("SELECT sent_outbox FROM items WHERE case_id = ? AND item_id = ?", (case_id, item_id)) as cur:
        row = await cur.fetchone()
    return row["sent_outbox"] if row else None


async def last_case_language(db: Connection, user_id: str) -> str | None:
    """The language of the care room `user_id` was last added to (their direct chat speaks it), if any."""
    async with db.execute(
        "SELECT r.language FROM members m JOIN cases c ON c.id = m.case_id JOIN rooms r ON r.room_id = c.room_id"
        " WHERE m.user_id = ? ORDER BY m.added_at DESC, c.id DESC LIMIT 1",
        (user_id,),
    ) as cur:
        row = await cur.fetchone()
    return row["language"] if row else None


@changes_case
async def remove_member(db: Connection, case_id: int, user_id: str) -> None:
    """Someone left the room (left, kicked or banned): their lane, coordinator flag and assignments go.

    The audit trail keeps who they were; their consent answers stay (they are theirs).
    """
    await db.execute("DELETE FROM members WHERE case_id = ? AND user_id = ?", (case_id, user_id))
    await db.execute("UPDATE items SET assigned_to = NULL WHERE case_id = ? AND assigned_to = ?", (case_id, user_id))


async def teams_by_room(db: Connection) -> dict[str, set[str]]:
    """Every care room's team (who has a member row), by room id: one read for all cases.

    A case removed by its retention run is not here: the bot has left its room.
    """
    teams: dict[str, set[str]] = {}
    async with db.execute(
        "SELECT c.room_id, m.user_id FROM cases c LEFT JOIN members m ON m.case_id = c.id"
        " WHERE c.room_id IS NOT NULL AND c.purged_at IS NULL"
    ) as cur:
        for row in await cur.fetchall():
            team = teams.setdefault(row["room_id"], set())
            if row["user_id"] is not None:
                team.add(row["user_id"])
    return teams


@changes_case
async def start_removal(db: Connection, case_id: int, user_id: str, now: datetime) -> bool:
    """Note that the bot removes `user_id` (no place on the team); False if it already is."""
    cur = await db.execute(
        "INSERT INTO removals (case_id, user_id, since) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        (case_id, user_id, now.isoformat()),
    )
    return cur.rowcount == 1


@changes_case
async def end_removal(db: Connection, case_id: int, user_id: str) -> None:
    """`user_id` is out of the room (their leave arrived): a later time in it is a new removal."""
    await db.execute("DELETE FROM removals WHERE case_id = ? AND user_id = ?", (case_id, user_id))


@changes_case
async def put_date(db: Connection, case_id: int, date_id: str, value: date | datetime, by: str, now: datetime) -> None:
    await db.execute(
        "INSERT INTO case_dates (case_id, date_id, value, set_by, set_at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (case_id, date_id)"
        " DO UPDATE SET value = excluded.value, set_by = excluded.set_by, set_at = excluded.set_at",
        (case_id, date_id, value.isoformat(), by, now.isoformat()),
    )


async def _ensure_item(db: Connection, case_id: int, item_id: str) -> None:
    await db.execute("INSERT INTO items (case_id, item_id) VALUES (?, ?) ON CONFLICT DO NOTHING", (case_id, item_id))


@changes_case
async def mark_sent(db: Connection, case_id: int, item_id: str, by: str, now: datetime, outbox_id: int) -> None:
    await _ensure_item(db, case_id, item_id)
    await db.execute(
        "UPDATE items SET sent_at = ?, sent_by = ?, sent_outbox = ? WHERE case_id = ? AND item_id = ?",
        (now.isoformat(), by, outbox_id, case_id, item_id),
    )


@changes_case
async def assign(db: Connection, case_id: int, item_id: str, user_id: str) -> None:
    await _ensure_item(db, case_id, item_id)
    await db.execute("UPDATE items SET assigned_to = ? WHERE case_id = ? AND item_id = ?", (user_id, case_id, item_id))


@changes_case
async def add_ack(db: Connection, case_id: int, item_id: str, ack: Ack, event_id: str) -> None:
    await db.execute(
        "INSERT INTO acks (case_id, item_id, lane_id, user_id, at, on_behalf, note, event_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (case_id, item_id, ack.lane, ack.user_id, ack.at.isoformat(), int(ack.on_behalf), ack.note, event_id),
    )


async def notice_for_event(db: Connection, event_id: str) -> tuple[int, str] | None:
    """(case id, item id) of the notice the bot posted as `event_id`."""
    async with db.execute(
        "SELECT items.case_id, items.item_id FROM items JOIN outbox ON outbox.id = items.sent_outbox"
        " WHERE outbox.event_id = ?",
        (event_id,),
    ) as cur:
        row = await cur.fetchone()
    return (row["case_id"], row["item_id"]) if row else None


@changes_case
async def put_checklist(db: Connection, case_id: int, phase_id: str, outbox_id: int) -> None:
    await db.execute(
        "INSERT INTO checklists (case_id, phase_id, outbox_id) VALUES (?, ?, ?)"
        " ON CONFLICT (case_id, phase_id) DO UPDATE SET outbox_id = excluded.outbox_id",
        (case_id, phase_id, outbox_id),
    )


def _parse_when(text: str) -> date | datetime:
    return datetime.fromisoformat(text) if "T" in text else date.fromisoformat(text)


@changes_case
async def add_extra_task(
    db: Connection,
    case_id: int,
    item_id: str,
    phase_id: str,
    lane: str,
    title: str,
    due: datetime | None,
    source: str,
    now: datetime,
) -> None:
    """A task the team added (e.g. an action from the minutes), tracked like the pathway's own."""
    await db.execute(
        "INSERT INTO extra_tasks (case_id, item_id, phase_id, lane_id, title, due, source, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            case_id,
            item_id,
            phase_id,
            lane,
            title,
            due.astimezone(UTC).isoformat() if due else None,
            source,
            now.isoformat(),
        ),
    )


#: What the audit trail records as the lane of an actor who has none (the bot, a coordinator without a lane).
NO_LANE = "-"


@bookkeeping
async def audit(
    db: Connection,
    *,
    room_id: str,
    actor: str,
    action: str,
    now: datetime,
    case_id: int | None = None,
    actor_lane: str | None = None,
    event_id: str | None = None,
    **details: Any,
) -> None:
    """Append one row to the audit trail (who, what, when, where, the causing event), chained to the case's last row."""
    await chain.append(
        db,
        "audit",
        {
            "case_id": case_id,
            "room_id": room_id,
            "at": now.isoformat(),
            "actor": actor,
            "actor_lane": actor_lane,
            "action": action,
            "details": json.dumps(details, ensure_ascii=False, default=str),
            "event_id": event_id,
        },
    )


@dataclass(frozen=True)
class AuditRow:
    id: int
    case_id: int | None
    room_id: str
    at: datetime  # UTC
    actor: str
    actor_lane: str | None
    action: str
    details: str  # JSON, as recorded
    event_id: str | None
    hash: str | None = None  # its link in the case's chain (store/chain.py)


async def audit_rows(
    db: Connection,
    case_id: int,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[AuditRow]:
    """The audit trail of a case in the order it was written; `since` inclusive, `until` exclusive.

    The bounds are compared as instants (parsed, not as text), so any ISO offset works.
    """
    found: list[AuditRow] = []
    async with db.execute("SELECT * FROM audit WHERE case_id = ? ORDER BY id", (case_id,)) as cur:
        for row in await cur.fetchall():
            at = datetime.fromisoformat(row["at"])
            if (since is not None and at < since) or (until is not None and at >= until):
                continue
            found.append(
                AuditRow(
                    row["id"],
                    row["case_id"],
                    row["room_id"],
                    at,
                    row["actor"],
                    row["actor_lane"],
                    row["action"],
                    row["details"],
                    row["event_id"],
                    row["hash"],
                )
            )
    return found


@changes_case
async def renew(db: Connection, case_id: int, item_id: str) -> None:
    """A notice whose content changed must be sent (and acknowledged) again; the audit keeps the old round."""
    await db.execute(
        "UPDATE items SET sent_at = NULL, sent_by = NULL, sent_outbox = NULL WHERE case_id = ? AND item_id = ?",
        (case_id, item_id),
    )
    await db.execute("DELETE FROM acks WHERE case_id = ? AND item_id = ?", (case_id, item_id))
