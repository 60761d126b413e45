"""Secrets kept in `data_dir` sealed with the store key: the access token and the cross-signing seeds.

The store key (`HOMEWARD_STORE_KEY`, or the generated `data_dir/store.key`) already encrypts the
device's keys in `crypto/`. The access token (as good as the password) and the private halves of
the bot's cross-signing keys (they sign a device as the bot's) are sealed with it too: a copy of
the data folder without the key — a backup, as docs/DEPLOYMENT.md asks — holds none of them.

A sealed value is AES-256-GCM under a key derived from the store key with scrypt (a fresh salt per
seal; the purpose is the associated data, so one sealed value cannot stand in for another), written
as JSON: `{"homeward_sealed": 1, "salt", "nonce", "ciphertext"}` (base64). A wrong key, or a changed
byte, fails to open (`SealError`); nothing is guessed.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

VERSION = 1
#: scrypt's cost: about 30 ms and 16 MiB per seal or open, at every start (twice) — against guessing a weak key.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


class SealError(Exception):
    """A sealed value does not open with this key (or was changed)."""


def _key(store_key: str, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=32, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P).derive(store_key.encode("utf-8"))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def seal(plaintext: bytes, store_key: str, purpose: str) -> dict[str, Any]:
    salt, nonce = os.urandom(16), os.urandom(12)
    ciphertext = AESGCM(_key(store_key, salt)).encrypt(nonce, plaintext, purpose.encode("utf-8"))
    return {"homeward_sealed": VERSION, "salt": _b64(salt), "nonce": _b64(nonce), "ciphertext": _b64(ciphertext)}


def is_sealed(value: object) -> bool:
    return isinstance(value, dict) and value.get("homeward_sealed") == VERSION


def unseal(box: dict[str, Any], store_key: str, purpose: str) -> bytes:
    try:
        salt, nonce, ciphertext = (base64.b64decode(box[k]) for k in ("salt", "nonce", "ciphertext"))
        return AESGCM(_key(store_key, salt)).decrypt(nonce, ciphertext, purpose.encode("utf-8"))
    except (InvalidTag, KeyError, ValueError, TypeError) as exc:
        raise SealError(f"does not open with the store key ({type(exc).__name__})") from None


def write_private(path: Path, text: str) -> None:
    """Owner-only, flushed to disk, then moved into place."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def reseal_file(path: Path, old: str, new: str) -> bool:
    """Every sealed value in the JSON file `path`, opened with `old` and sealed again with `new` (the store
    key changed); True when the file held any."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return False
    if is_sealed(data):
        purpose = str(data.get("purpose", ""))
        write_private(path, json.dumps({**seal(unseal(data, old, purpose), new, purpose), "purpose": purpose}))
        return True
    if not isinstance(data, dict):
        return False
    changed = False
    for name, value in list(data.items()):
        if is_sealed(value):
            purpose = str(value.get("purpose", name))
            data[name] = {**seal(unseal(value, old, purpose), new, purpose), "purpose": purpose}
            changed = True
    if changed:
        write_private(path, json.dumps(data))
    return changed
