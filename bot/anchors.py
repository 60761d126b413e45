"""Reading the audit chains' anchors back from the rooms, for `homeward verify-audit`.

An anchor (`work.anchors`) is an end-to-end encrypted message of the bot's own. To read it, a tool
running beside the bot needs the room key the bot encrypted it with; nio keeps the bot's own
outbound sessions as inbound sessions in its crypto store, pickled with the store key. So
verify-audit makes a private copy of that store (SQLite's backup, into a 0700 temporary folder,
removed afterwards: the running bot's store is never opened for writing), opens the copy with
the store key, and pages back through each case room's history as the bot's device with the
saved access token — `/messages` only: no sync, so no to-device message (room keys!) is taken
from the running bot. Only messages the bot's account sent are fetched; a redacted one is
reported (who redacted it), since an anchor gone is an anchor that no longer speaks.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nio import AsyncClient, AsyncClientConfig, MessageDirection, RoomMessagesResponse

from homeward.bot.session import Credentials, load_credentials
from homeward.bot.store_key import known_key
from homeward.config import Config

log = logging.getLogger(__name__)

PAGE = 100


@dataclass
class RoomAnchors:
    """What the bot's messages in one room say: its anchors, and the bot's messages someone redacted."""

    room_id: str
    anchors: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # (event id, at, anchor)
    redacted: list[tuple[str, str]] = field(default_factory=list)  # (event id, redacted by)
    unreadable: int = 0  # the bot's encrypted messages the copy of its store has no key for
    error: str | None = None


class AnchorsUnreadable(Exception):
    """The bot's saved device, its store or its key is missing: the rooms cannot be read."""


async def read_anchors(config: Config, rooms: list[str]) -> list[RoomAnchors]:
    """The anchors the bot posted in each of `rooms`, read from the homeserver and decrypted."""
    saved = load_credentials(config.credentials_path, _key(config))
    if saved is None or saved.user_id != config.user_id:
        raise AnchorsUnreadable(f"no saved device of {config.user_id} in {config.data_dir}")
    crypto = config.data_dir / "crypto" / f"{saved.user_id}_{saved.device_id}.db"
    if not crypto.exists():
        raise AnchorsUnreadable(f"the bot's encryption store {crypto} is missing")
    with tempfile.TemporaryDirectory(prefix="homeward-verify-") as scratch:
        Path(scratch).chmod(0o700)
        copy = Path(scratch) / crypto.name
        _copy_database(crypto, copy)
        return await _read(config, saved, Path(scratch), rooms)


def _key(config: Config) -> str:
    key = known_key(config.data_dir / "crypto", config.store_key.get_secret_value() if config.store_key else None)
    if key is None:
        raise AnchorsUnreadable("no store key: set HOMEWARD_STORE_KEY (or store_key) as the bot runs with")
    return key


def _copy_database(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite database the running bot may be writing (SQLite's online backup)."""
    with (
        contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src,
        contextlib.closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst)
    target.chmod(0o600)


async def _read(config: Config, saved: Credentials, store_dir: Path, rooms: list[str]) -> list[RoomAnchors]:
    client = AsyncClient(
        config.homeserver,
        saved.user_id,
        store_path=str(store_dir),
        config=AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False, pickle_key=_key(config)),
    )
    client.restore_login(saved.user_id, saved.device_id, saved.access_token)  # loads the copied store
    try:
        return [await _room(client, saved.user_id, room_id) for room_id in rooms]
    finally:
        await client.close()


async def _room(client: AsyncClient, bot: str, room_id: str) -> RoomAnchors:
    found = RoomAnchors(room_id)
    start: str | None = None
    only_the_bot = {"senders": [bot], "types": ["m.room.encrypted", "m.room.message"], "lazy_load_members": True}
    while True:
        page = await client.room_messages(
            room_id, start=start, direction=MessageDirection.back, limit=PAGE, message_filter=only_the_bot
        )
        if not isinstance(page, RoomMessagesResponse):
            found.error = getattr(page, "message", None) or type(page).__name__
            return found
        for event in page.chunk:
            source = event.source if isinstance(event.source, dict) else {}
            unsigned = source.get("unsigned") if isinstance(source.get("unsigned"), dict) else {}
            because = unsigned.get("redacted_because") if isinstance(unsigned, dict) else None
            if isinstance(because, dict):
                found.redacted.append((str(source.get("event_id")), str(because.get("sender"))))
                continue
            if source.get("type") == "m.room.encrypted" and "ciphertext" in (source.get("content") or {}):
                found.unreadable += 1  # still encrypted: no key for it in the store
                continue
            anchor = (source.get("content") or {}).get("homeward.audit_anchor")
            if isinstance(anchor, dict):
                at = anchor.get("at")
                when = at if isinstance(at, str) else str(source.get("origin_server_ts"))
                found.anchors.append((str(source.get("event_id")), when, anchor))
        if not page.chunk or not page.end or page.end == start:
            return found
        start = page.end
