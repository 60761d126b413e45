"""What the benchmarks share: the header every table starts with, percentiles, a process's memory."""

from __future__ import annotations

import asyncio
import os
import platform
import sqlite3
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def header(title: str, runs: str) -> None:
    """Title, date, machine and what was repeated: the first lines of every benchmark's output."""
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:
        nproc = os.cpu_count() or 0
    print(title)
    print(f"date:    {datetime.now(UTC).astimezone().isoformat(timespec='seconds')}")
    print(
        f"machine: nproc {nproc}, {platform.machine()}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )
    print(f"runs:    {runs}")
    print()


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100), as bench/reminders.py computes it."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS (resident now) and VmHWM (peak resident) of a live process, in kB, from /proc."""
    found: dict[str, int] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0])
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a live process has used so far, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def table(rows: Sequence[Sequence[str]], head: Sequence[str]) -> None:
    """A Markdown table (BENCHMARKS.md takes it as is); first column left, the others right."""
    print("| " + " | ".join(head) + " |")
    print("| --- |" + " ---: |" * (len(head) - 1))
    for row in rows:
        print("| " + " | ".join(row) + " |")


def write_bot_config(
    path: Path, *, homeserver: str, user_id: str, password: str, data_dir: Path, server_name: str
) -> None:
    """A `homeward run` configuration like a deployment's: INFO logging, every local user may invite."""
    path.write_text(
        f'homeserver = "{homeserver}"\nuser_id = "{user_id}"\npassword = "{password}"\n'
        f'data_dir = "{data_dir}"\nallowed_inviters = ["*:{server_name}"]\ncase_openers = ["*:{server_name}"]\n'
        'rate_limits = { "case new" = "off", "*" = "off" }\nlanguage = "en"\n'
        'timezone = "Europe/Oslo"\nlog_level = "INFO"\n',
        encoding="utf-8",
    )


def store_counts(store: Path) -> dict[str, int]:
    """Counts from the bot's SQLite file, read-only while the bot runs (WAL lets a reader in)."""
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=10) as db:

        def one(sql: str) -> int:
            return db.execute(sql).fetchone()[0]

        return {
            "cases": one("SELECT COUNT(*) FROM cases WHERE room_id IS NOT NULL"),
            "members": one("SELECT COUNT(*) FROM members"),
            "outbox_pending": one("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL"),
            "outbox_abandoned": one("SELECT COUNT(*) FROM outbox WHERE sent_at IS NOT NULL AND event_id IS NULL"),
            "outbox_sent": one("SELECT COUNT(*) FROM outbox WHERE event_id IS NOT NULL"),
            "audit": one("SELECT COUNT(*) FROM audit"),
        }


async def outbox_drained(store: Path, timeout: float = 600.0) -> dict[str, int]:
    """Wait until the bot has nothing left to send (three checks a second apart); the counts then."""
    deadline = time.monotonic() + timeout
    quiet = 0
    while time.monotonic() < deadline:
        counts = store_counts(store)
        quiet = quiet + 1 if counts["outbox_pending"] == 0 else 0
        if quiet >= 3:
            return counts
        await asyncio.sleep(1.0)
    raise TimeoutError(f"the bot's outbox did not drain: {store_counts(store)}")
