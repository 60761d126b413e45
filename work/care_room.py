"""One unit of work in a care room: the case, its view and the actor's membership, loaded once.

Everything that happens in a care room — a command, a join, a reminder coming due — runs
inside one store transaction through a `CareRoom`: it is loaded with one read, the
actor's membership and lane come from it, every audit row is written through it (who,
lane, room, time and causing event filled in), and after a change `settle` is the one
place where the view is recomputed, the reminders rescheduled and the pinned checklist
edited. Edits are queued last, after the answer the person is waiting for: where an edit
lands in the timeline does not matter.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from homeward.care.case import CaseView, Membership
from homeward.care.reminders import reconcile
from homeward.care.retention import retention_due
from homeward.care.updates import FAMILY_ROLES, schedule_update
from homeward.matrix.relations import edit_of
from homeward.messages.checklist import checklist_content, checklist_markdown
from homeward.store import cases, outbox
from homeward.store import reminders as reminder_rows
from homeward.store import retention as retention_rows
from homeward.store import updates as update_rows
from homeward.store.cases import NO_LANE, CaseRow, LoadedCase
from homeward.store.sql import Connection
from homeward.store.state import RoomInfo
from homeward.text import Markdown
from homeward.work.services import Services
from homeward.work.worklists import schedule_worklist


def closed_at(case: CaseRow) -> datetime | None:
    """When the case was closed, or None while it is open (a reopened case's clocks run on):
    the timeline shows a closed case, and its clocks stop at the closing."""
    return case.closed_at if case.state == "closed" else None


@dataclass
class CareRoom:
    """A care room's case inside the transaction of one event."""

    db: Connection
    services: Services
    info: RoomInfo
    loaded: LoadedCase
    actor: str  # who caused this unit of work: the sender, the joiner, or the bot itself
    event_id: str | None  # the event that caused it (None for the bot's own timers)
    now: datetime
    _edits: dict[str, dict[str, Any]] = field(default_factory=dict)
    _after_answer: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    #: The case as it was when the unit of work began (a handler may reload it on the way).
    _began: LoadedCase | None = None

    def __post_init__(self) -> None:
        self._began = self.loaded

    @classmethod
    async def of_case(
        cls,
        db: Connection,
        services: Services,
        case_id: int,
        *,
        actor: str,
        event_id: str | None,
        now: datetime,
        room_id: str | None = None,
    ) -> CareRoom:
        """A case by id (a reminder's, a case just opened); `room_id` when its room is not created yet."""
        loaded = await cases.load_case(db, case_id, services.pathways)
        room = room_id or loaded.case.room_id or ""
        info = RoomInfo(room, "case", loaded.view.pathway.language)
        return cls(db, services, info, loaded, actor, event_id, now)

    # -- what the unit of work knows ------------------------------------------------------

    @property
    def room_id(self) -> str:
        return self.info.room_id

    @property
    def language(self) -> str:
        return self.info.language

    @property
    def case(self) -> CaseRow:
        return self.loaded.case

    @property
    def view(self) -> CaseView:
        return self.loaded.view

    @property
    def member(self) -> Membership | None:
        """The actor's membership of the case (None: not on the team)."""
        return self.view.members.get(self.actor)

    @property
    def lane(self) -> str | None:
        member = self.member
        return member.lane if member else None

    @property
    def lane_role(self) -> str | None:
        """The role of the actor's lane (family, guardian, child, care), if they have one."""
        lane = self.lane
        return self.view.pathway.lane(lane).role if lane else None

    def t(self, key: str, /, **values: Any) -> Markdown:
        """A catalog message in the room's language; each value goes in by where it sits (homeward.text.fill)."""
        return self.services.catalog.t(self.language, key, **values)

    # -- what it writes ---------------------------------------------------------------

    async def audit(self, action: str, **details: Any) -> None:
        """Append to the audit trail: who, their lane, the room, the time and the causing event are filled in."""
        await cases.audit(
            self.db,
            room_id=self.room_id,
            actor=self.actor,
            action=action,
            now=self.now,
            case_id=self.case.id,
            actor_lane=self.lane or NO_LANE,
            event_id=self.event_id,
            **details,
        )

    async def queue(
        self,
        content: dict[str, Any],
        *,
        event_type: str = "m.room.message",
        kind: str = outbox.EVENT,
        supersede_key: str | None = None,
    ) -> int:
        """Queue an event for this room, in order; its outbox row id."""
        return await outbox.enqueue(
            self.db, self.room_id, event_type, content, self.now, kind=kind, supersede_key=supersede_key
        )

    async def queue_file(
        self,
        filename: str,
        mimetype: str,
        data: bytes,
        *,
        image: outbox.ImageParts | None = None,
        **extra: Any,
    ) -> int:
        """Queue a file for this room (uploaded encrypted; an m.image with its thumbnail when `image`).

        `extra` are its homeward.* keys.
        """
        return await outbox.enqueue_file(
            self.db, self.room_id, filename, mimetype, data, self.now, image=image, **extra
        )

    def edit_later(self, key: str, edit: dict[str, Any]) -> None:
        """An edit (`edit_of`), queued at the end of the unit of work; the last one per key wins."""
        self._edits[key] = edit

    async def post_checklist(self, after_join: str | None = None) -> int:
        """Post (and pin) the checklist of the current phase; later changes edit this message.

        `after_join`: it is posted for that newcomer: it goes once their client can read it (bot/sender.py).
        """
        content = checklist_content(self, self.view)
        if after_join:
            content["homeward.after_join"] = after_join
        row = await self.queue(content)
        await cases.put_checklist(self.db, self.case.id, self.view.phase_id, row)
        await self.queue(
            {"content": {"pinned": [outbox.ref(row)]}}, event_type="m.room.pinned_events", kind=outbox.STATE
        )
        self.loaded = LoadedCase(self.case, self.view, row)
        return row

    async def reload(self) -> None:
        """The case as the store has it now: the one place a view is recomputed after a change."""
        self.loaded = await cases.load_case(self.db, self.case.id, self.services.pathways)

    async def settle(self) -> None:
        """After a change: recompute the view, reschedule the reminders, and edit the checklist if it changed.

        The checklist is compared with the view it was drawn with: the one the unit of work began with (a
        step on the way may have reloaded the view already, e.g. a consent's round asked of a newcomer),
        or the last edit queued in this unit of work."""
        before = self.loaded
        began = self._began or before
        await self.reload()
        await self.reschedule_reminders()
        await self.reschedule_worklists_and_retention(began.view)
        await self.reschedule_family_update()
        after = self.loaded
        if after.checklist is None or after.checklist != before.checklist:
            return  # no checklist yet, or a new one was just posted with this very view
        key = f"checklist:{after.checklist}"
        drawn = began.view if began.checklist == after.checklist else before.view
        now_drawn = checklist_markdown(self, after.view)
        if key not in self._edits and now_drawn == checklist_markdown(self, drawn):
            return
        # The fallback for clients without edits is a short line, not the checklist again:
        # twice the checklist would not fit in one event for a big phase.
        fallback = self.t("checklist.updated", phase=after.view.phase.title)
        self.edit_later(
            key,
            edit_of(outbox.ref(after.checklist), checklist_content(self, after.view, now_drawn), fallback),
        )

    async def reschedule_reminders(self) -> None:
        """Bring the case's scheduled reminders in line with its state."""
        rows = await reminder_rows.live_rows(self.db, self.case.id)
        changes = reconcile(self.view, rows, self.case.quiet, self.now, closed_at=closed_at(self.case))
        if changes:
            await reminder_rows.apply(self.db, self.case.id, changes)

    async def reschedule_worklists_and_retention(self, before: CaseView | None = None) -> None:
        """When the case's coordinators or its state changed (or it is new, `before` None): the
        worklists of everyone who coordinates it, or did, and the case's retention run."""
        view = self.view
        if before is not None and before.state == view.state and before.coordinators() == view.coordinators():
            return
        people = set(view.coordinators()) | set(before.coordinators() if before else ())
        for user_id in sorted(people):
            await schedule_worklist(self.db, self.services, user_id, self.now)
        await retention_rows.schedule_retention(
            self.db, self.case.id, retention_due(view, self.services.config.retention_days)
        )

    async def reschedule_family_update(self) -> None:
        """Bring the case's planned word to the family in line with it (`care.updates`): one planned while the
        case is open, has family on its team and the room has not turned it off."""
        view = self.view
        family = any(m.lane and view.pathway.lane(m.lane).role in FAMILY_ROLES for m in view.members.values())
        changes = schedule_update(
            wanted=view.state == "open" and family,
            every=await update_rows.every(self.db, self.case.id),
            planned=await update_rows.planned(self.db, self.case.id),
            last_sent=await update_rows.last_sent(self.db, self.case.id),
            calendar=view.calendar(),
            now=self.now,
        )
        if changes:
            await update_rows.apply_update(self.db, self.case.id, changes)

    def after_answer(self, step: Callable[[], Awaitable[None]]) -> None:
        """Run `step` (which queues messages) once the command's answer is queued, so they come after it.

        An invitation: the answer must go before the invite, or the invitee's Element receives its room
        key while it does not know the bot's device yet and shows it as "Unable to decrypt" for good.
        """
        self._after_answer.append(step)

    def discard_later(self) -> None:
        """The command was refused or failed: its changes were rolled back, so are its edits and later steps."""
        self._edits.clear()
        self._after_answer.clear()

    async def flush_later(self) -> None:
        """Run the steps held for after the answer, then queue the edits held back by `edit_later`
        (pending edits of the same message replace each other)."""
        steps, self._after_answer = self._after_answer, []
        for step in steps:
            await step()
        for key, edit in self._edits.items():
            await self.queue(edit, supersede_key=key)
        self._edits.clear()
