"""Whether a unit of work changed a case: said by the store functions that write, not guessed from row counts.

Every store function that writes declares which of two kinds its write is:

- `@changes_case`: it changes what the case is — its team, dates, items, phase, consents,
  care plan, minutes, reminders, settings — or what the scheduler must know of it (a
  person's worklist setting and scheduled worklists, a retention run). A command that made
  such a write settles its case (view, reminders, worklists, checklist) and wakes the
  scheduler (`commands.dispatch`).
- `@bookkeeping`: it records that something happened or is to be sent — audit rows (reading
  is audited too), queued messages, handled events, the scheduler's own marks. A command
  whose only writes were these changed nothing.

The unit of work opens `recording()` around the code it asks about and reads `Changes.case`
afterwards. `tests/test_store_changes.py` checks that every store function that writes
carries exactly one of the two marks, so a new write cannot go unnoticed.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

#: The mark a writing store function carries (`WRITES` attribute): what kind of write it is.
WRITES = "homeward_writes"
CASE = "case"
BOOKKEEPING = "bookkeeping"


@dataclass
class Changes:
    """What one unit of work wrote: `case` once any `@changes_case` store function ran in it."""

    case: bool = False


_recording: ContextVar[Changes | None] = ContextVar("homeward_changes", default=None)


@contextmanager
def recording() -> Iterator[Changes]:
    """Note the case-changing writes made inside the block (in this task) on the `Changes` yielded."""
    changes = Changes()
    token = _recording.set(changes)
    try:
        yield changes
    finally:
        _recording.reset(token)


def changes_case(write: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Mark a store function whose write changes a case: once it has run, the unit of work has changed it."""

    @functools.wraps(write)
    async def marked(*args: P.args, **kwargs: P.kwargs) -> R:
        result = await write(*args, **kwargs)
        changes = _recording.get()
        if changes is not None:
            changes.case = True
        return result

    setattr(marked, WRITES, CASE)
    return marked


def bookkeeping(write: Callable[P, R]) -> Callable[P, R]:
    """Mark a store function whose write changes no case (an audit row, a queued message, a handled mark)."""
    setattr(write, WRITES, BOOKKEEPING)
    return write
