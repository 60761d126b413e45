"""The checklist always fits in one Matrix event, however big the phase grows.

Synapse refuses events over 64 KiB for good (M_TOO_LARGE): a checklist that outgrew it
would silently stop updating. Found by bench/burst.py: 50 people each with a task in one
phase made a 41 kB edit.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import cast

import aiosqlite

from homeward.care.case import Ack, CaseView, ExtraTask, ItemRecord, Membership
from homeward.care.pathway import Item
from homeward.commands.context import Context, IncomingCommand
from homeward.commands.registry import Command
from homeward.messages.catalog import Catalog
from homeward.messages.checklist import CHECKLIST_MAX_BYTES, checklist_content
from homeward.work.services import Services
from tests.unit import shipped_pathways

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PATHWAYS = shipped_pathways()


def _context() -> Context:
    event = IncomingCommand(
        room_id="!r:localhost",
        event_id="$e",
        sender="@anna:localhost",
        body="",
        timestamp_ms=0,
        encrypted=True,
        room_encrypted=True,
    )
    # Only what `Context.t` reads is real: the language and the services' catalog.
    services = cast(Services, SimpleNamespace(catalog=Catalog()))
    return Context(
        event=event,
        command=cast(Command, None),
        language="sv",
        db=cast(aiosqlite.Connection, None),
        services=services,
        now=NOW,
    )


def _case_with_tasks(count: int, done: int) -> CaseView:
    pathway = PATHWAYS["orebro"]
    phase = pathway.phases[0].id
    members = {
        f"@staff-member-with-a-long-id-{n:03}:hospital.example.org": Membership(
            f"@staff-member-with-a-long-id-{n:03}:hospital.example.org", "kommun", False
        )
        for n in range(count)
    }
    extra, records = {}, {}
    for n, user in enumerate(members):
        item = Item(
            id=f"action-{n}",
            kind="task",
            title=f"Åtgärd {n} från mötet om hemgång och utrustning",
            text="Åtgärd",
            mandatory=False,
            lane="kommun",
        )
        extra[item.id] = ExtraTask(item, phase, NOW + timedelta(days=2))
        if n < done:
            records[item.id] = ItemRecord(acks=[Ack("kommun", user, NOW)])
    return CaseView(
        pathway=pathway, label="Sjostjerne", phase_id=phase, dates={}, members=members, records=records, extra=extra
    )


def test_a_checklist_of_a_small_phase_lists_every_item():
    content = checklist_content(_context(), _case_with_tasks(5, done=2))

    assert "action-0" in content["body"] and "action-4" in content["body"]
    assert "!status" not in content["body"].split("\n")[-3]  # no "left out" line


def test_a_phase_with_two_hundred_done_tasks_gets_a_compact_checklist_that_fits_one_event():
    content = checklist_content(_context(), _case_with_tasks(200, done=200))

    assert len(json.dumps(content)) <= CHECKLIST_MAX_BYTES
    assert "200" in content["body"] and "`!status`" in content["body"]
    assert "action-17" not in content["body"]  # done items are counted, not listed


def test_a_phase_with_hundreds_of_open_tasks_lists_some_and_counts_the_rest():
    content = checklist_content(_context(), _case_with_tasks(300, done=0))

    assert len(json.dumps(content)) <= CHECKLIST_MAX_BYTES
    assert "action-0" in content["body"] and "action-299" not in content["body"]
    assert "265" in content["body"]  # 300 added and 5 of the pathway open, 40 shown
