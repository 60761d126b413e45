"""Specification of the data folder's modes (bot/data_dir.py) and the crypto store's key (bot/store_key.py)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from nio.crypto import OlmAccount
from nio.store import DefaultStore

from homeward.bot.data_dir import make_private
from homeward.bot.store_key import NIO_DEFAULT_KEY, StoreKeyError, key_path, store_key

USER, DEVICE = "@homeward:example.org", "DEVICEID"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture
def umask_restored():
    old = os.umask(0o022)
    os.umask(old)
    yield
    os.umask(old)


def test_an_existing_data_folder_becomes_owner_only_whatever_its_modes(tmp_path: Path, umask_restored: None) -> None:
    data = tmp_path / "data"
    (data / "crypto").mkdir(parents=True)
    os.chmod(data, 0o755)
    os.chmod(data / "crypto", 0o755)  # as nio and older Homewards left it
    for name, file_mode in (
        ("homeward.sqlite3", 0o644),
        ("crypto/@homeward:x_D.db", 0o644),
        ("credentials.json", 0o666),
    ):
        (data / name).write_text("x")
        os.chmod(data / name, file_mode)
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("not ours")
    os.chmod(outside, 0o644)
    (data / "link").symlink_to(outside)

    changed = make_private(data)

    assert {p.relative_to(data).as_posix() for p in changed} == {
        ".",
        "crypto",
        "homeward.sqlite3",
        "crypto/@homeward:x_D.db",
        "credentials.json",
    }
    assert [mode(p) for p in (data, data / "crypto")] == [0o700, 0o700]
    assert {mode(p) for p in data.rglob("*") if p.is_file() and not p.is_symlink()} == {0o600}
    assert mode(outside) == 0o644  # a symbolic link's target is left alone
    (data / "new-file").write_text("made after start-up")
    (data / "new-folder").mkdir()
    assert (mode(data / "new-file"), mode(data / "new-folder")) == (0o600, 0o700)  # the umask


def _legacy_store(crypto: Path, key: str = NIO_DEFAULT_KEY) -> str:
    """A nio store as Homeward ≤ 0.1 wrote it (nio's default pickle key); the account's identity key."""
    crypto.mkdir(parents=True, exist_ok=True)
    store = DefaultStore(USER, DEVICE, str(crypto), pickle_key=key)
    account = OlmAccount()
    store.save_account(account)
    store.database.close()
    return account.identity_keys["ed25519"]


def _opens_with(crypto: Path, key: str) -> str | None:
    store = DefaultStore(USER, DEVICE, str(crypto), pickle_key=key)
    try:
        account = store.load_account()
        return account.identity_keys["ed25519"] if account else None
    except Exception:
        return None
    finally:
        store.database.close()


def test_the_first_start_generates_a_key_owner_only(tmp_path: Path, umask_restored: None) -> None:
    crypto = tmp_path / "crypto"
    key = store_key(crypto, None)
    again = store_key(crypto, None)
    assert key.value == again.value and len(key.value) >= 40
    assert mode(key_path(crypto)) == 0o600
    assert store_key(crypto, "from-the-environment").value == "from-the-environment"


def test_a_store_pickled_with_nio_s_default_key_is_re_pickled_with_the_new_one_as_the_same_device(
    tmp_path: Path,
) -> None:
    crypto = tmp_path / "crypto"
    identity = _legacy_store(crypto)

    key = store_key(crypto, None, USER, DEVICE)

    assert key.value != NIO_DEFAULT_KEY
    assert _opens_with(crypto, key.value) == identity  # the same account: the same device
    assert _opens_with(crypto, NIO_DEFAULT_KEY) is None
    assert (key_path(crypto)).read_text().strip() == key.value


def test_a_configured_key_takes_over_from_the_key_file(tmp_path: Path) -> None:
    crypto = tmp_path / "crypto"
    identity = _legacy_store(crypto)
    first = store_key(crypto, None, USER, DEVICE)

    second = store_key(crypto, "kept-in-a-vault", USER, DEVICE)

    assert second.value == "kept-in-a-vault"
    assert _opens_with(crypto, "kept-in-a-vault") == identity and _opens_with(crypto, first.value) is None
    assert not (key_path(crypto)).exists()  # a stale key file opens nothing


def test_a_store_no_known_key_opens_stops_start_up_and_changes_nothing(tmp_path: Path) -> None:
    crypto = tmp_path / "crypto"
    identity = _legacy_store(crypto, key="a-key-nobody-has-any-more")
    before = (crypto / f"{USER}_{DEVICE}.db").read_bytes()

    with pytest.raises(StoreKeyError, match="does not open with the key"):
        store_key(crypto, None, USER, DEVICE)

    assert (crypto / f"{USER}_{DEVICE}.db").read_bytes() == before
    assert not (key_path(crypto)).exists()
    assert _opens_with(crypto, "a-key-nobody-has-any-more") == identity
