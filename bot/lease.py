"""Who acts among the processes sharing a PostgreSQL store: the lease, renewed in the background.

`LeaseKeeper.run` takes the lease when it is free (or its holder let it expire) and renews it
every `RENEW_EVERY_S`; it calls `on_acquired` when this process begins to act and `on_lost`
when it must stop. It keeps a deadline on this machine's monotonic clock, taken *before* each
request that set the lease's expiry on the database's clock: the local deadline always falls
before the database lets another process take over. `held(margin)` says whether this process
may still act for `margin` seconds; the sender asks it before every send (bot/sender.py), so a
process cut off from the database stops sending before its lease can be taken, even if this
loop is stuck waiting for the network.

The lease has its own connection: renewals never wait behind the store's transactions.

Timing (the takeover bound measured in BENCHMARKS.md): a lease lasts `LEASE_S`; a standby asks
every `TRY_EVERY_S`. After the acting process dies, the standby acts within LEASE_S +
TRY_EVERY_S; after a clean stop (the lease released), within TRY_EVERY_S.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from homeward.store import lease
from homeward.store.db import Fence, redacted
from homeward.store.lease import LeaseState

if TYPE_CHECKING:  # psycopg is imported only with a PostgreSQL store (0.2 s and 23 MiB at start otherwise)
    from homeward.store.postgres import PgConnection

log = logging.getLogger(__name__)

LEASE_S = 5.0
RENEW_EVERY_S = 1.0
TRY_EVERY_S = 1.0
#: A database request of the lease loop that takes longer than this is given up (and the connection made anew).
REQUEST_TIMEOUT_S = 2.0
#: Nothing is sent with less than this left of the lease (a send in flight must land before the lease can be taken).
SEND_MARGIN_S = 1.5


def holder_name(device_id: str | None) -> str:
    """This process, as the lease and the log name it: host, process id and device."""
    return f"{socket.gethostname()}:{os.getpid()}:{device_id or '-'}"


class LeaseKeeper:
    def __init__(
        self,
        url: str,
        device_id: str | None,
        on_acquired: Callable[[Fence, LeaseState | None], Awaitable[None]],
        on_lost: Callable[[str], Awaitable[None]],
        *,
        lease_s: float = LEASE_S,
    ) -> None:
        self.url = url
        self.device_id = device_id
        self.holder = holder_name(device_id)
        self.on_acquired = on_acquired
        self.on_lost = on_lost
        self.lease_s = lease_s
        self.fence: Fence | None = None
        self._deadline = 0.0  # monotonic: this process acts until then
        self._db: PgConnection | None = None
        self._stopped = False
        self._taking_over: asyncio.Task[None] | None = None

    def held(self, margin: float = 0.0) -> bool:
        """Whether this process holds the lease for at least `margin` more seconds (its own clock)."""
        return self.fence is not None and time.monotonic() + margin < self._deadline

    def seconds_left(self, margin: float = 0.0) -> float:
        """How long this process may still act, less `margin` (0 when it may not)."""
        return max(0.0, self._deadline - time.monotonic() - margin) if self.fence else 0.0

    async def run(self) -> None:
        """Forever: take the lease when it is free, renew it while held, and let go of acting when it is lost."""
        while not self._stopped:
            await self.step()
            if self.fence is None:
                await asyncio.sleep(TRY_EVERY_S)
            else:
                await asyncio.sleep(max(0.0, min(RENEW_EVERY_S, self._deadline - time.monotonic())))

    async def step(self) -> None:
        """One round: try to take the lease, or renew it; lose it when that failed for too long."""
        try:
            db = await self._connection()
            asked = time.monotonic()
            if self.fence is None:
                async with asyncio.timeout(REQUEST_TIMEOUT_S):
                    taken = await lease.try_acquire(db, self.holder, self.device_id, self.lease_s)
                if taken is not None:
                    token, before = taken
                    self._deadline = asked + self.lease_s
                    self.fence = Fence(self.holder, token)
                    # Beside this loop: taking over (catching up, checking the chains) may take longer than
                    # the lease, which must go on being renewed meanwhile.
                    self._taking_over = asyncio.create_task(self._take_over(self.fence, before))
            else:
                async with asyncio.timeout(REQUEST_TIMEOUT_S):
                    renewed = await lease.renew(db, self.fence.token, self.lease_s)
                if renewed:
                    self._deadline = asked + self.lease_s
                else:
                    await self._lose("another process took the lease")
                    return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the database unreachable, a timeout: try again with a new connection
            log.warning("the lease could not be %s (%s)", "renewed" if self.fence else "asked for", _brief(exc))
            await self._drop_connection()
        if self.fence is not None and not self.held():
            await self._lose(f"the lease could not be renewed for {self.lease_s:.0f} s (the database unreachable)")

    async def settled(self) -> None:
        """Until a takeover under way has finished (start-up waits for it, as on SQLite)."""
        if self._taking_over is not None:
            await asyncio.gather(self._taking_over, return_exceptions=True)

    async def _take_over(self, fence: Fence, before: LeaseState | None) -> None:
        try:
            await self.on_acquired(fence, before)
        except Exception:
            log.exception("taking over failed; the lease is given back")
            if self.fence == fence:
                await self.release(stop=False)
                await self.on_lost("taking over failed")

    async def _lose(self, reason: str) -> None:
        self.fence = None
        self._deadline = 0.0
        await self.on_lost(reason)

    async def release(self, stop: bool = True) -> None:
        """A clean stop: give the lease up so that a standby takes over at once."""
        self._stopped = stop
        if stop and self._taking_over is not None and not self._taking_over.done():
            self._taking_over.cancel()
        fence, self.fence = self.fence, None
        if fence is not None:
            with contextlib.suppress(Exception):
                db = await self._connection()
                async with asyncio.timeout(REQUEST_TIMEOUT_S):
                    await lease.release(db, fence.token)
                log.info("lease released (token %d): a standby takes over at once", fence.token)
        await self._drop_connection()

    async def _connection(self) -> PgConnection:
        if self._db is None or self._db.broken:
            async with asyncio.timeout(REQUEST_TIMEOUT_S * 2):
                from homeward.store.postgres import PgConnection

                self._db = await PgConnection.connect(self.url, application_name=f"homeward lease {self.holder}")
        return self._db

    async def _drop_connection(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            with contextlib.suppress(Exception):
                await db.close()


def _brief(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {redacted(text[0])}" if text else type(exc).__name__
