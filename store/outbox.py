"""Outgoing events, queued in the transaction of the change that caused them.

A row holds its content only until it is settled: once the homeserver accepted it (or it
was given up) the content is cleared in the same statement that marks the row, keeping
what the bookkeeping needs — the event id (which edits, pins and reactions resolve rows
by), the type, kind, room and times, the content's size, and the event a sent answer
replied to (or answered without quoting it: `homeward.answers`).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeward.store.changes import bookkeeping
from homeward.store.rows import inserted_id
from homeward.store.sql import Connection

# What an outbox row asks the homeserver to do.
EVENT = "event"  # send `content` as a room event of `event_type`
STATE = "state"  # put `content` as state `event_type` (state key in content["state_key"])
CREATE_ROOM = "create_room"  # create a room from `content` (kwargs of nio's room_create)
INVITE = "invite"  # invite content["user_id"]
KICK = "kick"  # remove content["user_id"]
LEAVE = "leave"  # the bot leaves the room for good (a case's retention run): see forget_room
# Upload a file and post it as m.file, or as m.image with a thumbnail (both encrypted as attachments
# in an encrypted room): content = {"filename", "mimetype", "data_b64", "body", "msgtype", "info": {...},
# optionally "thumbnail_b64" and "thumbnail_info": {...}, and "homeward.*": ...}
FILE = "file"

PLACEHOLDER = "$outbox:"
#: The key an event sent from a shared store carries: its row (`OutboxRow.marker`), so that a process
#: taking over finds a row the previous one sent but could not mark (bot/takeover.py).
MARKER_KEY = "homeward.outbox"


def ref(row_id: int) -> str:
    """A value resolved when sending: the event id (or, for a created room, the room id) of row `row_id`."""
    return f"{PLACEHOLDER}{row_id}"


@dataclass(frozen=True)
class OutboxRow:
    id: int
    room_id: str
    event_type: str
    content: dict[str, Any]
    attempts: int
    kind: str = EVENT
    room_kind: str | None = None  # the room's kind ('case', 'direct', 'other') when read, if the room is known
    created_at: str = ""

    @property
    def txn_id(self) -> str:
        """Stable per row: the homeserver drops a resend with the same transaction id (from the same device)."""
        return f"homeward-{self.id}"

    @property
    def marker(self) -> str:
        """The row in the event's content (`MARKER_KEY`): its id and when it was queued, unique in the room
        even after a store was restored from a backup and ids were handed out again."""
        return f"{self.id}/{self.created_at}"


@bookkeeping
async def enqueue(
    db: Connection,
    room_id: str,
    event_type: str,
    content: dict[str, Any],
    now: datetime,
    *,
    kind: str = EVENT,
    supersede_key: str | None = None,
) -> int:
    """Queue one thing to send. A pending row with the same `supersede_key` is replaced."""
    if supersede_key is not None:
        await db.execute("DELETE FROM outbox WHERE supersede_key = ? AND sent_at IS NULL", (supersede_key,))
    cur = await db.execute(
        "INSERT INTO outbox (room_id, event_type, content, created_at, kind, supersede_key) VALUES (?, ?, ?, ?, ?, ?)",
        (room_id, event_type, json.dumps(content, ensure_ascii=False), now.isoformat(), kind, supersede_key),
    )
    return inserted_id(cur)


async def _waiting_for(db: Connection, room_id: str, user_id: str) -> list[tuple[int, dict[str, Any]]]:
    """The pending rows of a room held until `user_id` joins (`homeward.after_join`), with their content.

    Read and filtered here, not in SQL: few rows wait at once, and SQLite's and PostgreSQL's JSON
    functions differ."""
    async with db.execute(
        "SELECT id, content FROM outbox WHERE room_id = ? AND sent_at IS NULL ORDER BY id", (room_id,)
    ) as cur:
        rows = [(r["id"], json.loads(r["content"])) for r in await cur.fetchall()]
    return [(row_id, content) for row_id, content in rows if content.get("homeward.after_join") == user_id]


@bookkeeping
async def abandon_waiting_for(
    db: Connection,
    room_id: str,
    user_id: str,
    now: datetime,
    reason: str,
    *,
    carrying: tuple[str, ...],
) -> int:
    """Give up the rows of a room held until `user_id` joins (`homeward.after_join`)
    whose content has one of the keys `carrying`.

    Given up, a row forgets its content like any settled row (`mark_abandoned`)."""
    given_up = 0
    for row_id, content in await _waiting_for(db, room_id, user_id):
        if any(key in content for key in carrying):
            cur = await db.execute(
                f"UPDATE outbox SET sent_at = ?, last_error = ?, {_FORGET_CONTENT} WHERE id = ? AND sent_at IS NULL",
                (now.isoformat(), reason[:500], row_id),
            )
            given_up += cur.rowcount
    return given_up


@bookkeeping
async def release_waiting_for(db: Connection, room_id: str, user_id: str) -> int:
    """Let the rows of a room held until `user_id` joins go without waiting for them."""
    released = 0
    for row_id, content in await _waiting_for(db, room_id, user_id):
        del content["homeward.after_join"]
        cur = await db.execute(
            "UPDATE outbox SET content = ? WHERE id = ? AND sent_at IS NULL",
            (json.dumps(content, ensure_ascii=False), row_id),
        )
        released += cur.rowcount
    return released


@bookkeeping
async def enqueue_file(
    db: Connection,
    room_id: str,
    filename: str,
    mimetype: str,
    data: bytes,
    now: datetime,
    *,
    image: ImageParts | None = None,
    encrypted_only: bool = False,
    **extra: Any,
) -> int:
    """Queue a file for the room (uploaded encrypted in an encrypted room); `extra` are homeward.* keys.

    With `image` it goes as an m.image: its pixel size in `info` and a thumbnail (uploaded
    too, encrypted the same way), so clients show it inline. `encrypted_only`: never sent
    into a room that is not encrypted (care rooms always are; a direct chat may not be).
    """
    content: dict[str, Any] = {
        "filename": filename,
        "mimetype": mimetype,
        "data_b64": base64.b64encode(data).decode("ascii"),
        "body": filename,
        "msgtype": "m.file",
        "info": {"mimetype": mimetype, "size": len(data)},
        **{f"homeward.{key}": value for key, value in extra.items()},
    }
    if encrypted_only:
        content["encrypted_only"] = True
    if image is not None:
        content["msgtype"] = "m.image"
        content["info"].update(w=image.width, h=image.height)
        content["thumbnail_b64"] = base64.b64encode(image.thumbnail).decode("ascii")
        content["thumbnail_info"] = {
            "w": image.thumbnail_width,
            "h": image.thumbnail_height,
            "mimetype": image.thumbnail_mimetype,
            "size": len(image.thumbnail),
        }
    return await enqueue(db, room_id, "m.room.message", content, now, kind=FILE)


@dataclass(frozen=True)
class ImageParts:
    """What an m.image needs besides its bytes: its size in pixels and a thumbnail."""

    width: int
    height: int
    thumbnail: bytes
    thumbnail_width: int
    thumbnail_height: int
    thumbnail_mimetype: str = "image/png"


async def pending(db: Connection, limit: int = 50) -> list[OutboxRow]:
    """The rows to send, oldest first, each with its room's kind."""
    return [row_from(r) for r in await pending_raw(db, limit)]


async def pending_raw(db: Connection, limit: int) -> list[Any]:
    """The rows to send, oldest first, with their content as stored (the sender parses only what changed)."""
    async with db.execute(
        "SELECT o.id, o.room_id, o.event_type, o.content, o.attempts, o.kind, r.kind AS room_kind, o.created_at"
        " FROM outbox o LEFT JOIN rooms r ON r.room_id = o.room_id WHERE o.sent_at IS NULL ORDER BY o.id LIMIT ?",
        (limit,),
    ) as cur:
        return list(await cur.fetchall())


def row_from(r: Any) -> OutboxRow:
    """An outbox row as `pending_raw` read it."""
    return OutboxRow(
        r["id"],
        r["room_id"],
        r["event_type"],
        json.loads(r["content"]),
        r["attempts"],
        r["kind"],
        r["room_kind"],
        r["created_at"],
    )


async def results(db: Connection, row_ids: set[int]) -> dict[int, tuple[bool, str | None]]:
    """For each row: (finished, event id or room id). Finished with None means abandoned."""
    if not row_ids:
        return {}
    marks = ",".join("?" * len(row_ids))
    async with db.execute(f"SELECT id, sent_at, event_id FROM outbox WHERE id IN ({marks})", tuple(row_ids)) as cur:
        rows = await cur.fetchall()
    return {r["id"]: (r["sent_at"] is not None, r["event_id"]) for r in rows}


@bookkeeping
async def count_attempt(db: Connection, row_id: int) -> None:
    """Note that a non-idempotent request (room creation) is about to be made."""
    await db.execute("UPDATE outbox SET attempts = attempts + 1 WHERE id = ?", (row_id,))


# What a settled row keeps of its content (migration 8 cleared the rows sent before it, the same way).
_FORGET_CONTENT = (
    "content_size = length(CAST(content AS BLOB)),"
    ' reply_to = coalesce(json_extract(content, \'$."m.relates_to"."m.in_reply_to".event_id\'),'
    " json_extract(content, '$.\"homeward.answers\"')),"
    " content = '{}'"
)


@bookkeeping
async def mark_sent(db: Connection, row_id: int, event_id: str, now: datetime) -> None:
    """The homeserver took the row: record its event id and forget its content."""
    await db.execute(
        f"UPDATE outbox SET sent_at = ?, event_id = ?, {_FORGET_CONTENT} WHERE id = ? AND sent_at IS NULL",
        (now.isoformat(), event_id, row_id),
    )


@bookkeeping
async def mark_failed(db: Connection, row_id: int, error: str) -> None:
    await db.execute("UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?", (error[:500], row_id))


@bookkeeping
async def mark_abandoned(db: Connection, row_id: int, error: str, now: datetime) -> None:
    """Never deliverable (e.g. the bot was removed from the room).

    Stop retrying, keep the reason, forget the content.
    """
    await db.execute(
        f"UPDATE outbox SET sent_at = ?, attempts = attempts + 1, last_error = ?, {_FORGET_CONTENT}"
        " WHERE id = ? AND sent_at IS NULL",
        (now.isoformat(), error[:500], row_id),
    )


@bookkeeping
async def forget_room(db: Connection, room_id: str, now: datetime) -> int:
    """The bot has left `room_id` for good: give up what was still waiting to go there (it never
    can), and keep no content of any of its rows. Rows settled before are cleared already
    (`mark_sent`, `mark_abandoned`) and keep their bookkeeping; this clears the rest the same
    way. The number of rows touched."""
    cur = await db.execute(
        "UPDATE outbox SET last_error = CASE WHEN sent_at IS NULL THEN 'the bot left the room' ELSE last_error END,"
        f" sent_at = COALESCE(sent_at, ?), {_FORGET_CONTENT} WHERE room_id = ? AND content != '{{}}'",
        (now.isoformat(), room_id),
    )
    return cur.rowcount
