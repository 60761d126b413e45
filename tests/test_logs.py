"""Specification of who may log what (homeward/logs.py): DEBUG for Homeward is not DEBUG for the libraries."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from homeward import logs
from homeward.store import outbox
from homeward.store.db import Store

PLAN_TEXT = "Trenger sondemat og oksygen hjemme"


@pytest.fixture
def levels_restored() -> Iterator[None]:
    names = ["", "homeward", *logs.LIBRARIES, "some.other.library"]
    saved = {name: logging.getLogger(name).level for name in names}
    handlers = list(logging.getLogger().handlers)
    yield
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)
    logging.getLogger().handlers[:] = handlers


def test_at_debug_homeward_logs_debug_and_the_libraries_warnings_only(levels_restored: None) -> None:
    logging.getLogger().setLevel(logging.DEBUG)  # a test runner's root logger, or anyone's
    logs.configure("DEBUG")
    assert logging.getLogger("homeward.bot.sync").isEnabledFor(logging.DEBUG)
    for name in ("aiosqlite", "peewee", "nio.rooms", "apscheduler.scheduler", "weasyprint"):
        assert not logging.getLogger(name).isEnabledFor(logging.INFO), name
        assert logging.getLogger(name).isEnabledFor(logging.WARNING), name


def test_a_library_named_in_debug_loggers_logs_debug(levels_restored: None) -> None:
    logs.configure("INFO", ["nio"])
    assert logging.getLogger("nio.client").isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("aiosqlite").isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("homeward").isEnabledFor(logging.DEBUG)


def test_homeward_run_s_set_up_keeps_every_other_logger_at_warning(levels_restored: None) -> None:
    logging.getLogger().handlers[:] = []
    logs.setup("DEBUG")
    assert logging.getLogger().level == logging.WARNING
    assert not logging.getLogger("some.other.library").isEnabledFor(logging.INFO)
    assert logging.getLogger("homeward").isEnabledFor(logging.DEBUG)


async def test_the_store_s_sql_parameters_stay_out_of_a_debug_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, levels_restored: None
) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger at DEBUG: aiosqlite logs every call with its parameters
    logs.configure("DEBUG")
    store = await Store.open(tmp_path / "homeward.sqlite3")
    try:
        async with store.transaction() as db:
            await outbox.enqueue(db, "!r:x", "m.room.message", {"body": PLAN_TEXT}, datetime.now(UTC))
    finally:
        await store.close()
    assert PLAN_TEXT not in caplog.text
