"""A closed case's retention run: the last export to the room, its personal content removed
from the store, a record of that in the audit trail, and the bot leaving the room.

One scheduled row per closed case (`retention_days` after it was closed), fired like a
reminder: everything happens in one transaction of the case's unit of work — the export
and a notice queued, the content deleted, the audit row written, the leave queued and
the row marked done — so after a crash either all of it happened or none did. The outbox
sends the export and the notice before the leave (one room's rows go in order), and once
the bot has left, the sender forgets the content of every message it sent there.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging

from homeward.care.consent import require_consent
from homeward.care.refusal import Refusal
from homeward.care.retention import retention_firing
from homeward.exports.build import careplan_document, named_in_plan
from homeward.exports.render import render_pdf
from homeward.matrix.content import notice_content
from homeward.messages.careplan import change_note
from homeward.store import changelogs, consents, outbox
from homeward.store import retention as retention_rows
from homeward.store.db import Store
from homeward.work.care_room import CareRoom
from homeward.work.services import Services
from homeward.work.worklists import schedule_worklist

log = logging.getLogger(__name__)


async def run_retention(store: Store, services: Services, run_id: int) -> bool:
    """Carry out one scheduled retention run if its time has come; True when the case was removed."""
    now = services.clock.now()
    async with store.transaction() as db:
        row = await retention_rows.retention_by_id(db, run_id)
        if row is None or row.status != "planned" or row.fire_at > now:
            return False
        room = await CareRoom.of_case(db, services, row.case_id, actor=services.config.user_id, event_id=None, now=now)
        decision = retention_firing(room.view, services.config.retention_days, room.case.quiet, now)
        if decision.action == "cancel" or room.case.room_id is None:
            await retention_rows.finish_retention(db, row.id, "cancelled", now)
            return False
        if decision.action == "postpone":
            assert decision.until is not None
            await retention_rows.postpone_retention(db, row.id, decision.until)
            return False
        view, case = room.view, room.case
        answers = await consents.answers(db, case.id)
        exported: dict[str, object] | None = None
        try:
            require_consent(view, answers, "export")
        except Refusal as refusal:
            note = room.t(
                "retention.no_export", consent=refusal.values.get("consent", ""), id=refusal.values.get("id", "")
            )
        else:
            plan = await changelogs.load_careplan(db, case.id)
            # The last document names people as the room does now (read from the bot's client, never
            # stored), as `!export` does: it is the record the region keeps after the room is gone.
            found = {
                user: services.display_name(room.room_id, user)
                for user in named_in_plan(view, plan, answers, case.opened_by)
            }
            document = careplan_document(
                view,
                plan,
                answers,
                await changelogs.all_minutes(db, case.id),
                now,
                case.opened_by,
                names={user: name for user, name in found.items() if name},
                change_note=change_note(room, plan.changes[-1] if plan.changes else None, view.pathway),
            )
            data = await asyncio.to_thread(render_pdf, document)
            exported = {
                "what": "case",
                "format": "pdf",
                "version": plan.version,
                "sha256": hashlib.sha256(data).hexdigest(),
            }
            name = f"case-{case.label}-v{plan.version}-final.pdf"
            note = room.t("retention.export_follows", name=name)
        days = services.config.retention_days
        await room.queue(notice_content(room.t("retention.notice", label=view.label, days=days) + "\n\n" + note))
        if exported is not None:
            await room.queue_file(name, "application/pdf", data, export=exported)
        assert case.room_id is not None  # a case without a room was cancelled above
        removed = await retention_rows.purge_case(db, case.id, case.room_id, now)
        await room.audit(
            "case.purged",
            retention_days=days,
            closed_at=view.closed_at.isoformat() if view.closed_at else None,
            exported=exported,
            removed=removed,
        )
        await room.queue({"reason": "retention"}, event_type="m.room.member", kind=outbox.LEAVE)
        await retention_rows.finish_retention(db, row.id, "done", now)
        for user_id in view.coordinators():  # the case leaves their worklists
            await schedule_worklist(db, services, user_id, now)
    log.info("room=%s case=%d retention run: personal content removed, leaving the room", room.room_id, row.case_id)
    return True
