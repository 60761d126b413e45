"""matrix-nio's client with one guard against a race in its group-session handling.

While a message is being sent (`room_send`: share the room key, then encrypt), the sync
loop may process a membership change, which makes nio drop the room's outbound session.
nio then encrypts with a fresh session it never shared, and nobody can read that message.
Handling a sync response and sending a message therefore take the same lock.

And one saving on the way from a sync to an answer: nio writes the rooms that became
encrypted into its store after every sync, looking up its account in that store (a
blocking SQLite query) even when there are none; with none, nothing is looked up.
"""

from __future__ import annotations

import asyncio

from nio import AsyncClient, Response, SyncResponse


class HomewardClient(AsyncClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.crypto_lock = asyncio.Lock()

    def load_store(self) -> None:
        super().load_store()
        store = self.store
        if store is not None and "save_encrypted_rooms" not in vars(store):
            save = store.save_encrypted_rooms
            store.save_encrypted_rooms = lambda rooms: save(rooms) if rooms else None

    async def receive_response(self, response: Response) -> None:
        if isinstance(response, SyncResponse):
            async with self.crypto_lock:
                await super().receive_response(response)
        else:
            await super().receive_response(response)
