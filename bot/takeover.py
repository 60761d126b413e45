"""Exactly once across a takeover: did the previous process already send this row?

The process that acted before may have sent a row and died before marking it sent. Its
transaction id does not help the new one: transaction ids are per device, and the new
process is another device of the bot's account. So every event sent from a shared store
carries its row (`store.outbox.MARKER_KEY`: the row's id and the time it was queued), and a
process that takes over looks for a pending row in its room's recent timeline before sending
it: found, the row is marked sent with the event it already is; not found, it is sent.

Only the rows that were pending when the lease changed hands are looked for (the new process
sends the rest itself), and each room's timeline is read once, back to the bot's first
event older than the room's oldest such row (rows go out in order in a room) or
`LOOK_BACK_PAGES` pages at most. The bot's other device shares its room keys with this one,
so the events read back decrypt.
"""

from __future__ import annotations

import logging
from typing import Any

from nio import AsyncClient, MessageDirection, RoomMessagesResponse

from homeward.store.outbox import MARKER_KEY, OutboxRow

log = logging.getLogger(__name__)

#: How far back a room's timeline is read for rows sent but not marked: pages of PAGE events.
LOOK_BACK_PAGES = 5
PAGE = 100


class SentBefore:
    """The rows pending when this process took over, and what their rooms' timelines say of them."""

    def __init__(self, client: AsyncClient, suspects: dict[int, str]) -> None:
        """`suspects`: row id → room id of each row that was pending when the lease changed hands."""
        self.client = client
        self.suspects = suspects
        self._found: dict[str, dict[str, str]] = {}  # room → marker → event id

    def suspect(self, row: OutboxRow) -> bool:
        return row.id in self.suspects

    async def event_of(self, row: OutboxRow, room_id: str) -> str | None:
        """The event the previous process sent for `row`, if the room's timeline has it."""
        if row.id not in self.suspects:
            return None
        if room_id not in self._found:
            oldest = min(row_id for row_id, room in self.suspects.items() if room == row.room_id)
            self._found[room_id] = await self._read_back(room_id, oldest)
        event_id = self._found[room_id].get(row.marker)
        del self.suspects[row.id]
        if event_id:
            log.info("room=%s outbox=%d was sent by the process before; marked, not sent again", room_id, row.id)
        return event_id

    async def _read_back(self, room_id: str, oldest_row: int) -> dict[str, str]:
        found: dict[str, str] = {}
        start = self.client.next_batch or ""  # this device's position: the latest events first
        for _ in range(LOOK_BACK_PAGES):
            page = await self.client.room_messages(room_id, start=start, direction=MessageDirection.back, limit=PAGE)
            if not isinstance(page, RoomMessagesResponse) or not page.chunk:
                break
            older = False
            for event in page.chunk:
                if getattr(event, "sender", None) != self.client.user_id:
                    continue
                marker = _marker(event)
                if marker is None:
                    continue
                found[marker] = event.event_id
                row_id = int(marker.split("/", 1)[0]) if marker.split("/", 1)[0].isdigit() else None
                older = older or (row_id is not None and row_id < oldest_row)
            if older or not page.end:
                break
            start = page.end
        return found


def _marker(event: Any) -> str | None:
    source = event.source if isinstance(getattr(event, "source", None), dict) else {}
    content = source.get("content")
    marker = content.get(MARKER_KEY) if isinstance(content, dict) else None
    return marker if isinstance(marker, str) else None
