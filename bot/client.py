"""matrix-nio's client with one guard against a race in its group-session handling.

While a message is being sent (`room_send`: share the room key, then encrypt), the sync
loop may process a membership change, which makes nio drop the room's outbound session.
nio then encrypts with a fresh session it never shared, and nobody can read that message.
Handling a sync response and sending a message therefore never overlap: the sync takes
`crypto_lock` for itself (exclusive), sends take it together (`CryptoLock.shared`), so the
outbox sender's sends into different rooms overlap each other's HTTP requests while no
sync response is handled in the middle of any of them. Olm and Megolm work itself is
synchronous Python between two awaits, so it never interleaves (bot/sender.py).

And one saving on the way from a sync to an answer: nio writes the rooms that became
encrypted into its store after every sync, looking up its account in that store (a
blocking SQLite query) even when there are none; with none, nothing is looked up.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType

from nio import AsyncClient, Response, SyncResponse


class CryptoLock:
    """A read-write lock: `async with lock:` is the exclusive side (the sync loop, key housekeeping,
    anything that changes which devices get a room key); `async with lock.shared():` the side that
    any number of sends hold at once.

    A waiting exclusive holder goes first: sends that arrive after it wait behind it (asyncio.Lock
    is first come, first served), so a steady stream of sends never starves the sync loop.
    """

    def __init__(self) -> None:
        self._gate = asyncio.Lock()  # held by the exclusive side; passed through by each shared entrant
        self._shared = 0
        self._no_shared = asyncio.Event()
        self._no_shared.set()

    async def acquire(self) -> None:
        await self._gate.acquire()
        try:
            await self._no_shared.wait()  # the sends in flight finish; new ones queue at the gate
        except BaseException:
            self._gate.release()
            raise

    def release(self) -> None:
        self._gate.release()

    def locked(self) -> bool:
        return self._gate.locked()

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.release()

    @asynccontextmanager
    async def shared(self) -> AsyncIterator[None]:
        async with self._gate:
            self._shared += 1
            self._no_shared.clear()
        try:
            yield
        finally:
            self._shared -= 1
            if self._shared == 0:
                self._no_shared.set()

    @property
    def sharing(self) -> int:
        """How many hold the shared side now (tests, measurements)."""
        return self._shared


class HomewardClient(AsyncClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.crypto_lock = CryptoLock()

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
