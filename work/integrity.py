"""At start-up: do the audit trail and the consent answers still verify? If not, say so — once per broken row.

The chains (store/chain.py) show a change made to the database behind the application's
back. The bot does not stop for it — the care goes on, and stopping would only take the
team's tool away — but it logs an error naming the first broken row of each case, and
tells the coordinators of that case in their room, through the outbox like any other
message, and records that it did in the case's audit trail. A kv mark per broken row
keeps a restart from telling them again; a new break elsewhere is told anew.
"""

from __future__ import annotations

import logging

from homeward.matrix.content import details_content
from homeward.store import chain
from homeward.store.chain import Break
from homeward.store.db import Store
from homeward.store.retention import purged_room
from homeward.store.state import get_value, set_value
from homeward.text import mentions
from homeward.work import safeguards
from homeward.work.care_room import CareRoom
from homeward.work.services import Services

log = logging.getLogger(__name__)


def told_key(broken: Break) -> str:
    return f"chain.told:{broken.table}:{broken.row_id}"


async def check_chains(store: Store, services: Services) -> list[Break]:
    """Verify every chain; log each break and queue the message to its case's coordinators (once). The breaks."""
    async with store.read() as db:
        breaks = chain.first_breaks(await chain.verify(db))
    for broken in breaks:
        log.error("the audit record was changed outside Homeward: %s", broken.describe())
    told = 0
    for broken in breaks:
        if broken.case_id is not None and await _tell(store, services, broken, broken.case_id):
            told += 1
    if told:
        services.wake_outbox()
    return breaks


async def _tell(store: Store, services: Services, broken: Break, case_id: int) -> bool:
    now = services.clock.now()
    async with store.transaction() as db:
        if await get_value(db, told_key(broken)) is not None:
            return False
        try:
            room = await CareRoom.of_case(db, services, case_id, actor=services.config.user_id, event_id=None, now=now)
        except KeyError:
            log.error("%s names case %s, which does not exist: nobody to tell", broken.table, broken.case_id)
            return False
        if room.case.room_id is None:
            return False  # the room was never created: nobody is in it
        if await purged_room(db, room.case.room_id):
            return False  # removed by its retention run: the bot left the room, nobody there to tell (logged above)
        coordinators = sorted(user for user, member in room.view.members.items() if member.coordinator)
        text = room.t(
            "audit.chain_broken",
            people=mentions(coordinators),
            label=room.case.label,
            row=broken.row_id,
            what=room.t(f"audit.chain_{broken.table}"),
            how=room.t(f"audit.chain_{broken.reason}"),
        )
        await safeguards.post(
            room,
            "chain_broken",
            text,
            coordinators,
            status="error",
            chain_broken={"table": broken.table, "row": broken.row_id, "reason": broken.reason},
        )
        details = room.t(  # what it means and what to do: after it, naming nobody (the alert is a few lines)
            "audit.chain_broken_details",
            row=broken.row_id,
            what=room.t(f"audit.chain_{broken.table}"),
            how=room.t(f"audit.chain_{broken.reason}"),
        )
        await room.queue(details_content(details))
        await room.audit("audit.chain_broken", table=broken.table, row=broken.row_id, reason=broken.reason)
        await set_value(db, told_key(broken), now.isoformat())
    log.info("room=%s coordinators told that %s row %d does not verify", room.room_id, broken.table, broken.row_id)
    return True
