"""matrix-nio's client with one guard against a race in its group-session handling.

While a message is being sent (`room_send`: share the room key, then encrypt), the sync
loop may process a membership change, which makes nio drop the room's outbound session.
nio then encrypts with a fresh session it never shared, and nobody can read that message.
Handling a sync response and sending a message therefore take the same lock.
"""

from __future__ import annotations

import asyncio

from nio import AsyncClient, Response, SyncResponse


class HomewardClient(AsyncClient):
    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 - as AsyncClient
        super().__init__(*args, **kwargs)
        self.crypto_lock = asyncio.Lock()

    async def receive_response(self, response: Response) -> None:
        if isinstance(response, SyncResponse):
            async with self.crypto_lock:
                await super().receive_response(response)
        else:
            await super().receive_response(response)
