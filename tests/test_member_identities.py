"""Members' identities: signatures checked as the spec says (signed here with matrix-org's signedjson), the
master key pinned on first use, devices trusted while the pinned identity signs them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from signedjson.key import generate_signing_key, get_verify_key
from signedjson.sign import sign_json

from homeward.matrix.cross_signing import member_keys, unpadded_b64
from homeward.store import trust
from homeward.store.db import Store
from homeward.store.trust import TrustBook
from homeward.work.trust import Verdict, verdict_of

ALICE = "@alice:example.org"
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def public(key: Any) -> str:
    return unpadded_b64(get_verify_key(key).encode())


class Account:
    """An account's keys as a client makes them: a cross-signing identity and devices (signedjson signs)."""

    def __init__(self, user_id: str = ALICE) -> None:
        self.user_id = user_id
        self.new_identity()
        self.devices: dict[str, dict[str, Any]] = {}
        self.device_keys: dict[str, Any] = {}

    def new_identity(self) -> None:
        self.master = generate_signing_key(unpadded_b64(b"m"))
        self.self_signing = generate_signing_key(unpadded_b64(b"s"))

    def key_object(self, key: Any, usage: str) -> dict[str, Any]:
        return {"user_id": self.user_id, "usage": [usage], "keys": {f"ed25519:{public(key)}": public(key)}}

    def signed_by_master(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.master.version = public(self.master)
        return sign_json(obj, self.user_id, self.master)

    def add_device(self, device_id: str, signed: bool = True) -> dict[str, Any]:
        key = generate_signing_key(device_id)
        curve = unpadded_b64(device_id.encode().ljust(32, b"c"))
        obj = {
            "user_id": self.user_id,
            "device_id": device_id,
            "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
            "keys": {f"ed25519:{device_id}": public(key), f"curve25519:{device_id}": curve},
        }
        obj = sign_json(obj, self.user_id, key)  # the device's own signature, key id = device id
        if signed:
            obj = self.sign_device(obj)
        self.devices[device_id] = obj
        self.device_keys[device_id] = key
        return obj

    def sign_device(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.self_signing.version = public(self.self_signing)
        return sign_json(obj, self.user_id, self.self_signing)

    def query(self, cross_signing: bool = True) -> dict[str, Any]:
        answer: dict[str, Any] = {"device_keys": {self.user_id: dict(self.devices)}}
        if cross_signing:
            answer["master_keys"] = {self.user_id: self.key_object(self.master, "master")}
            answer["self_signing_keys"] = {
                self.user_id: self.signed_by_master(self.key_object(self.self_signing, "self_signing"))
            }
        return answer


def test_a_device_counts_as_signed_only_through_self_signing_key_and_master_key() -> None:
    alice = Account()
    alice.add_device("PHONE")
    alice.add_device("WARDPC", signed=False)
    keys = member_keys(alice.query(), ALICE)

    assert keys.master == public(alice.master) and keys.self_signing == public(alice.self_signing)
    assert set(keys.devices) == {"PHONE", "WARDPC"} and keys.signed == {"PHONE"}
    assert keys.signed_device("PHONE") is not None and keys.signed_device("WARDPC") is None


def test_a_self_signing_key_the_master_key_did_not_sign_vouches_for_nothing() -> None:
    alice = Account()
    alice.add_device("PHONE")
    answer = alice.query()
    forged = alice.key_object(alice.self_signing, "self_signing")  # unsigned
    answer["self_signing_keys"][ALICE] = forged
    keys = member_keys(answer, ALICE)
    assert keys.self_signing is None and keys.signed == frozenset()


def test_keys_objects_of_another_user_or_device_or_with_a_bad_signature_are_dropped() -> None:
    alice = Account()
    alice.add_device("PHONE")
    answer = alice.query()
    answer["device_keys"][ALICE]["OTHER"] = answer["device_keys"][ALICE]["PHONE"]  # listed under another id
    tampered = dict(answer["device_keys"][ALICE]["PHONE"])
    tampered["keys"] = {**tampered["keys"], "curve25519:PHONE": "x" * 43}
    answer["device_keys"][ALICE]["TAMPERED"] = {**tampered, "device_id": "TAMPERED"}
    answer["master_keys"]["@mallory:example.org"] = answer["master_keys"][ALICE]
    keys = member_keys(answer, ALICE)
    assert set(keys.devices) == {"PHONE"}
    assert member_keys(answer, "@mallory:example.org").master is None  # the object names Alice


def test_an_account_without_cross_signing_has_devices_and_no_identity() -> None:
    alice = Account()
    alice.add_device("OLDCLIENT", signed=False)
    keys = member_keys(alice.query(cross_signing=False), ALICE)
    assert keys.master is None and set(keys.devices) == {"OLDCLIENT"} and keys.signed == frozenset()


async def test_the_master_key_is_pinned_on_first_use_and_a_new_one_trusts_nothing_until_restored(
    tmp_path: Path,
) -> None:
    store = await Store.open(tmp_path / "s.sqlite3")
    alice = Account()
    alice.add_device("PHONE")
    alice.add_device("WARDPC", signed=False)
    async with store.transaction() as db:
        first = await trust.learn(db, member_keys(alice.query(), ALICE), T0)
        assert first.pinned == public(alice.master) and first.newly_trusted == ["PHONE"]
        assert first.new_untrusted == ["WARDPC"]
        assert [d.device_id for d in await trust.trusted_devices(db, ALICE)] == ["PHONE"]
        # The same answer again changes nothing.
        again = await trust.learn(db, member_keys(alice.query(), ALICE), T0 + timedelta(minutes=1))
        assert not again.trust_moved and again.new_untrusted == []

        # Verified later: trusted from then on.
        alice.devices["WARDPC"] = alice.sign_device(alice.devices["WARDPC"])
        later = await trust.learn(db, member_keys(alice.query(), ALICE), T0 + timedelta(hours=1))
        assert later.newly_trusted == ["WARDPC"]
        assert await trust.newest_trusted_since(db, ALICE) == T0 + timedelta(hours=1)

        # A reset: a new master key, the phone signed by it; nothing is trusted.
        alice.new_identity()
        alice.devices["PHONE"] = alice.sign_device(alice.devices["PHONE"])
        reset = await trust.learn(db, member_keys(alice.query(), ALICE), T0 + timedelta(hours=2))
        assert reset.changed_to == public(alice.master) and reset.pinned is None
        assert await trust.trusted_devices(db, ALICE) == []
        known = await trust.identity(db, ALICE)
        assert known is not None and known.changed and known.master_key == first.pinned

        # A coordinator restores trust: the new key pinned, what it signs trusted.
        assert await trust.restore(db, ALICE, T0 + timedelta(hours=3)) == public(alice.master)
        assert [d.device_id for d in await trust.trusted_devices(db, ALICE)] == ["PHONE"]
        assert await trust.restore(db, ALICE, T0 + timedelta(hours=4)) is None  # nothing left to restore
    await store.close()


async def test_the_book_answers_from_memory_and_reads_a_forgotten_account_again(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.sqlite3")
    alice = Account()
    phone = alice.add_device("PHONE")
    curve, ed = phone["keys"]["curve25519:PHONE"], phone["keys"]["ed25519:PHONE"]
    book = TrustBook()
    async with store.transaction() as db:
        await book.load(db)
        assert verdict_of(book, ALICE, curve, ed) == (Verdict.UNKNOWN, None)
        await trust.learn(db, member_keys(alice.query(), ALICE), T0)
        book.forget(ALICE)
        await book.refresh(db)
        assert verdict_of(book, ALICE, curve, ed) == (Verdict.TRUSTED, "PHONE")
        assert verdict_of(book, ALICE, curve, "another-ed25519-key")[0] is Verdict.UNSIGNED
        alice.new_identity()
        await trust.learn(db, member_keys(alice.query(), ALICE), T0 + timedelta(hours=1))
        book.forget(ALICE)
        await book.refresh(db)
        assert verdict_of(book, ALICE, curve, ed) == (Verdict.IDENTITY_CHANGED, None)
    await store.close()
