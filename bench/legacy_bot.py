"""`homeward run` with the outbox sender of before issue 24 (bench/legacy_sender.py), for bench/morning.py.

.venv/bin/python bench/legacy_bot.py run --config FILE
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import legacy_sender

import homeward.bot.app
from homeward.cli import main

homeward.bot.app.OutboxSender = legacy_sender.OutboxSender  # type: ignore[misc,assignment]

if __name__ == "__main__":
    sys.exit(main())
