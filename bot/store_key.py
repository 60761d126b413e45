"""The secret that encrypts the device's keys inside nio's crypto store.

nio pickles the Olm account and the Olm and Megolm sessions with a passphrase; left at
its default (`"DEFAULT_KEY"`, the same for every nio program) anyone who can read the
store can read every room key in it. Homeward takes the passphrase from `store_key`
(`HOMEWARD_STORE_KEY`) or, when that is not configured, from `data_dir/store.key`, which it
generates on the first start (random, 0600). The same key seals the access token and the
cross-signing seeds (`bot.sealed`). The key file sits beside `crypto/`, not in it, so that a
backup can take `crypto/` and leave the key out (docs/DEPLOYMENT.md), and a lost `crypto/`
does not take the key — and with it the sealed seeds — along; a key file an older Homeward
wrote into `crypto/` is moved out at the next start.

A store written by an older Homeward was pickled with nio's default passphrase. It is
re-pickled with the new key in place, in one SQLite transaction, by nio's own load and
save functions: the same device, the same sessions, so the bot keeps decrypting its
rooms. The key file is made durable before the store is rewritten, so a crash in
between leaves a store that still opens with the default and is migrated again on the
next start. A store that opens with none of the candidate keys stops start-up with a
clear message: the bot never locks itself out silently and never becomes a new device
because of a key mix-up.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import vodozemac
from nio import AsyncClientConfig
from nio.store import DefaultStore

from homeward.bot.sealed import SealError, reseal_file

log = logging.getLogger(__name__)

KEY_FILE = "store.key"
#: What nio pickles with when no key is given: what every store of Homeward ≤ 0.1 was written with.
NIO_DEFAULT_KEY: str = AsyncClientConfig().pickle_key
_WRONG_KEY = (vodozemac.PickleException, vodozemac.LibolmPickleException, ValueError)


class StoreKeyError(Exception):
    """The crypto store cannot be opened with any key Homeward knows of; nothing was changed."""


@dataclass(frozen=True)
class StoreKey:
    value: str
    source: str  # "HOMEWARD_STORE_KEY / store_key", or the key file's path


def key_path(crypto_dir: Path) -> Path:
    """`data_dir/store.key`: beside the crypto store (`data_dir/crypto`), not inside it."""
    return crypto_dir.parent / KEY_FILE


def _move_older_key_file(crypto_dir: Path) -> None:
    """A key file an older Homeward kept in `crypto/` moves beside it (same file system: one rename)."""
    older, path = crypto_dir / KEY_FILE, key_path(crypto_dir)
    if older.exists() and not path.exists():
        os.replace(older, path)
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
        log.warning("moved the crypto store key from %s to %s (keep it out of backups of %s)", older, path, crypto_dir)


def store_key(
    crypto_dir: Path, configured: str | None, user_id: str | None = None, device_id: str | None = None
) -> StoreKey:
    """The key to open the device's store with, migrating the store to it when it was pickled with another.

    `user_id` and `device_id` name the saved device (None before the first login: no store yet).
    """
    _move_older_key_file(crypto_dir)
    path = key_path(crypto_dir)
    on_file = _read_key(path)
    if configured:
        current = StoreKey(configured, "store_key (HOMEWARD_STORE_KEY)")
    elif on_file:
        current = StoreKey(on_file, str(path))
    else:
        current = StoreKey(secrets.token_urlsafe(32), str(path))
    database = crypto_dir / f"{user_id}_{device_id}.db" if user_id and device_id else None
    if database is None or not database.exists() or _opens(crypto_dir, user_id, device_id, current.value):
        if not configured and not on_file:
            _write_key(path, current.value)
        return current
    # The store was pickled with an earlier key: the key file's (now overridden) or nio's default.
    assert user_id and device_id  # they name the store that exists
    earlier = [k for k in (on_file, NIO_DEFAULT_KEY) if k and k != current.value]
    for old in earlier:
        if _opens(crypto_dir, user_id, device_id, old):
            if not configured and not on_file:
                _write_key(path, current.value)  # durable before the store depends on it
            count = _repickle(crypto_dir, user_id, device_id, old, current.value)
            for sealed in (crypto_dir.parent / "credentials.json", crypto_dir.parent / "cross-signing-keys.json"):
                try:
                    reseal_file(sealed, old, current.value)  # the access token and the seeds follow the key
                except SealError:
                    log.error("%s was sealed with yet another key: it stays as it is and will not open", sealed)
            log.warning(
                "re-encrypted the crypto store of device %s with the key from %s (%d sessions; it was %s)",
                device_id,
                current.source,
                count,
                "nio's default key" if old == NIO_DEFAULT_KEY else f"the key in {path}",
            )
            if configured and on_file:
                path.unlink()  # the configured key is the one now; a stale key file opens nothing
            return current
    raise StoreKeyError(
        f"the encryption store {database} does not open with the key from {current.source}"
        + (f" nor with the key in {path}" if on_file and configured else "")
        + ". Restore the key that store was written with (HOMEWARD_STORE_KEY or the key file); "
        "Homeward does not replace the device's keys by itself."
    )


def known_key(crypto_dir: Path, configured: str | None) -> str | None:
    """The store key as the bot runs with it — configured, or in the key file — without creating or migrating
    anything (for tools beside the running bot, `homeward verify-audit`); None when there is none."""
    return configured or _read_key(key_path(crypto_dir)) or _read_key(crypto_dir / KEY_FILE)


def _read_key(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    return text or None


def _write_key(path: Path, key: str) -> None:
    """Write the key owner-only and durably (file and folder synced) before anything relies on it."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    try:
        os.write(fd, key.encode("ascii") + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
    log.info("generated the crypto store key in %s", path)


def _open_store(crypto_dir: Path, user_id: str, device_id: str, key: str) -> DefaultStore:
    return DefaultStore(user_id, device_id, str(crypto_dir), pickle_key=key)


def _opens(crypto_dir: Path, user_id: str | None, device_id: str | None, key: str) -> bool:
    """Whether the device's account (the first thing nio unpickles) opens with `key`."""
    assert user_id and device_id
    store = _open_store(crypto_dir, user_id, device_id, key)
    try:
        store.load_account()
        return True
    except _WRONG_KEY:
        return False
    finally:
        store.database.close()


def _repickle(crypto_dir: Path, user_id: str, device_id: str, old: str, new: str) -> int:
    """Load everything pickled with `old` and save it pickled with `new`, in one transaction; how many sessions."""
    before = _open_store(crypto_dir, user_id, device_id, old)
    try:
        account = before.load_account()
        sessions = [(key, session) for key, chain in before.load_sessions().items() for session in chain]
        groups = list(before.load_inbound_group_sessions())
    finally:
        before.database.close()
    after = _open_store(crypto_dir, user_id, device_id, new)
    try:
        with after.database.atomic():
            if account is not None:
                after.save_account(account)
            for sender_key, session in sessions:
                after.save_session(sender_key, session)
            for group in groups:
                after.save_inbound_group_session(group)
        check = after.load_account()  # reads back with the new key, or raises
        assert (check is None) == (account is None)
    finally:
        after.database.close()
    return len(sessions) + len(groups)
