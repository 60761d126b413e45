"""The bookkeeping behind "nothing lost, nothing doubled".

A `Ledger` records every command the homeserver accepted (its event id is the proof),
waits until each has been answered, and then checks the bot's store against what the
users saw: every accepted command was handled and answered exactly once, every change
has exactly one audit row, the plan and the acknowledgements hold each change once, and
no reminder reached the room twice. Crash and outage tests share it, so "the same checks
hold" is literally the same code.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nio import RoomSendResponse

from tests.harness import Member, Seen


@contextlib.contextmanager
def read_only(database: Path | str) -> Iterator[Any]:
    """A plain DB-API connection to a store, for checks: `execute(sql with ?, params)` on either engine."""
    if isinstance(database, str) and database.startswith("postgresql://"):
        import psycopg

        from homeward.store.sql import to_postgresql

        class Translating:
            def __init__(self, raw: psycopg.Connection) -> None:
                self.raw = raw

            def execute(self, sql: str, params: tuple = ()) -> Any:
                query, _ = to_postgresql(sql, bool(params))
                return self.raw.execute(query.encode(), params or None)

        with psycopg.connect(database, autocommit=True) as raw:
            yield Translating(raw)
    else:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
            yield db


#: Commands that neither change nor show the case record leave no audit row; every change,
#: and every read of the record (`!status`, `!consents`, `!plan show`), leaves exactly one.
UNAUDITED = {"ping", "help", "team", "reminders"}


@dataclass
class Sent:
    member: Member
    event_id: str
    text: str

    @property
    def name(self) -> str:
        return self.text.lstrip("!/").split()[0]


@dataclass
class Ledger:
    room_id: str
    sent: list[Sent] = field(default_factory=list)
    rejected: int = 0  # sends the homeserver did not accept (not commands the bot owes anything)

    async def send(self, member: Member, text: str) -> None:
        """Send a command; only what the homeserver accepted goes into the ledger."""
        try:
            await member.know_devices(self.room_id)
            response = await member.client.room_send(
                self.room_id, "m.room.message", {"msgtype": "m.text", "body": text}, ignore_unverified_devices=True
            )
        except Exception:
            self.rejected += 1
            return
        if isinstance(response, RoomSendResponse):
            self.sent.append(Sent(member, response.event_id, text))
        else:
            self.rejected += 1

    def answers(self, sent: Sent) -> list[Seen]:
        return sent.member.replies_to(sent.event_id)

    def unanswered(self) -> list[Sent]:
        return [s for s in self.sent if not self.answers(s)]

    async def wait_until_answered(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while (missing := self.unanswered()) and time.monotonic() < deadline:
            await asyncio.sleep(0.25)
        assert not missing, (
            f"{len(missing)} of {len(self.sent)} accepted commands got no answer, e.g. {missing[0].text!r}"
        )

    def reminders_seen(self, member: Member) -> list[tuple]:
        return [
            tuple(s.content["homeward.reminder"][k] for k in ("item", "kind", "sequence", "planned_at", "due"))
            for s in member.seen
            if s.room_id == self.room_id and "homeward.reminder" in s.content
        ]

    def verify(self, database: Path | str, watcher: Member) -> dict[str, int]:
        """Every check, against the store of a stopped bot (its SQLite file, or its PostgreSQL URL); returns the
        counts it checked."""
        assert self.sent, "nothing was sent"
        doubled = [s.text for s in self.sent if len(self.answers(s)) != 1]
        assert not doubled, f"{len(doubled)} commands were answered more or less than once: {doubled[:5]}"

        with read_only(database) as db:
            handled = {
                row[0] for row in db.execute("SELECT event_id FROM handled_events WHERE room_id = ?", (self.room_id,))
            }
            audit = Counter(
                row[0] for row in db.execute("SELECT event_id FROM audit WHERE room_id = ?", (self.room_id,))
            )
            plan = Counter(row[0] for row in db.execute("SELECT event_id FROM plan_changes"))
            goals = [json.loads(row[0]).get("text") for row in db.execute("SELECT record FROM plan_changes")]
            acks = Counter(row[0] for row in db.execute("SELECT event_id FROM acks"))
            pending = db.execute(
                "SELECT count(*) FROM outbox WHERE room_id = ? AND sent_at IS NULL", (self.room_id,)
            ).fetchone()[0]
            answer_rows: Counter[str] = Counter()
            # A sent row keeps no content, only the event it replied to (store/outbox.py).
            for (target,) in db.execute(
                "SELECT reply_to FROM outbox WHERE room_id = ? AND event_id IS NOT NULL", (self.room_id,)
            ):
                answer_rows[target] += 1
            reminders_sent = db.execute(
                "SELECT count(*) FROM reminders r JOIN cases c ON c.id = r.case_id"
                " WHERE r.status = 'sent' AND c.room_id = ?",
                (self.room_id,),
            ).fetchone()[0]

        assert pending == 0, f"{pending} messages still in the outbox"
        missing = [s.text for s in self.sent if s.event_id not in handled]
        assert not missing, f"accepted but never handled: {missing[:5]}"
        ok = {s.event_id for s in self.sent if self.answers(s)[0].content["homeward.status"] == "ok"}
        for s in self.sent:
            assert answer_rows[s.event_id] == 1, f"{s.text!r} has {answer_rows[s.event_id]} answers in the outbox"
            expected = 1 if s.event_id in ok and s.name not in UNAUDITED else 0
            assert audit[s.event_id] == expected, (
                f"{s.text!r} ({'ok' if s.event_id in ok else 'error'}) has {audit[s.event_id]} audit rows"
            )
            if s.text.startswith("!plan goal"):
                assert plan[s.event_id] == (1 if s.event_id in ok else 0), (
                    f"{s.text!r} is {plan[s.event_id]} times in the plan"
                )
            if s.name == "ack":
                assert acks[s.event_id] == (1 if s.event_id in ok else 0), (
                    f"{s.text!r} recorded {acks[s.event_id]} times"
                )
        goal_texts = [g for g in goals if g]
        assert len(goal_texts) == len(set(goal_texts)), "a goal is in the plan twice"

        reminders = self.reminders_seen(watcher)
        assert len(reminders) == len(set(reminders)), (
            f"a reminder reached the room twice: {Counter(reminders).most_common(1)}"
        )
        assert len(reminders) == reminders_sent, f"{reminders_sent} reminders sent by the store, {len(reminders)} seen"
        return {
            "accepted": len(self.sent),
            "ok": len(ok),
            "audit rows": sum(audit.values()),
            "plan changes": sum(plan.values()),
            "acks": sum(acks.values()),
            "reminders": len(reminders),
        }
