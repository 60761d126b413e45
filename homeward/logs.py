"""Who may log what: Homeward at the configured level, every library at WARNING unless named.

Homeward's own log lines say what happened (room id, event id, command, outcome) and
never message bodies, names, labels or plan text, at every level. The libraries do not
keep that promise at DEBUG: aiosqlite logs each SQL call with its parameters (psycopg may) (plan text,
notes, consent answers), peewee logs the crypto store's SQL with the pickled keys, nio
logs events. So `log_level = "DEBUG"` turns on Homeward's DEBUG only; a library's DEBUG
log has to be asked for by name (`debug_loggers = ["nio"]`), knowing what it will write.

`configure` sets the levels on the loggers themselves, not only on the root logger, so
it holds under any handler set-up: `homeward run`'s (cli.setup_logging) and a test
runner's that puts the root logger at DEBUG alike.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

#: The libraries Homeward runs (and theirs) that log; held at WARNING unless named in `debug_loggers`.
LIBRARIES = (
    "aiosqlite",
    "psycopg",
    "nio",
    "peewee",
    "apscheduler",
    "aiohttp",
    "asyncio",
    "weasyprint",
    "fontTools",
    "PIL",
    "markdown_it",
    "urllib3",
    "tzlocal",
    "holidays",
    "jinja2",
)
LIBRARY_LEVEL = logging.WARNING


def configure(level: str | int, debug_loggers: Iterable[str] = ()) -> None:
    """Homeward's loggers at `level`; each library at WARNING (or `level`, if higher); those named at DEBUG."""
    wanted = logging.getLevelName(level) if isinstance(level, str) else level
    logging.getLogger("homeward").setLevel(wanted)
    named = set(debug_loggers)
    for name in LIBRARIES:
        if name not in named:
            logging.getLogger(name).setLevel(max(LIBRARY_LEVEL, wanted))
    for name in named:
        logging.getLogger(name).setLevel(logging.DEBUG)


def setup(level: str, debug_loggers: Iterable[str] = ()) -> None:
    """The process's logging (`homeward run`): one stderr handler; any logger not configured logs warnings only."""
    wanted = logging.getLevelName(level)
    logging.basicConfig(level=max(LIBRARY_LEVEL, wanted), format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    logging.getLogger().setLevel(max(LIBRARY_LEVEL, wanted))
    configure(level, debug_loggers)
