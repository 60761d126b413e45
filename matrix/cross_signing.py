"""The bot's cross-signing identity as the Matrix spec defines it: keys, signed objects, decisions.

Pure: no I/O. homeward.bot.identity asks the homeserver, decides with `decide`, and uploads.

Client-server API, "Cross-signing": an account has three Ed25519 keys, a *master* key
(its identity), a *self-signing* key (signs the account's own devices) and a
*user-signing* key (signs other users' master keys), the last two signed by the master
key. A key object is `{user_id, usage, keys: {"ed25519:<public>": "<public>"}}`; public
keys and signatures are unpadded base64. Signing JSON (appendix "Signing JSON") signs the
canonical JSON of the object without its `signatures` and `unsigned`, and adds the
signature under `signatures[<user>]["ed25519:<key id>"]`. Element trusts a device that
its owner's self-signing key signed: matrix-nio cannot do that itself (its issue #229).

Ed25519 is `cryptography`'s, canonical JSON is `canonicaljson`'s: nothing here is crypto
written by hand; this module only arranges the objects the spec describes.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from enum import Enum
from typing import Any

from canonicaljson import encode_canonical_json
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SEEDS_VERSION = 1
USAGES = ("master", "self_signing", "user_signing")


class SeedsError(ValueError):
    """A saved seeds file that cannot be used (wrong shape, another account)."""


def unpadded_b64(data: bytes) -> str:
    """The spec's "Unpadded Base64": standard alphabet, no `=` padding."""
    return base64.b64encode(data).decode("ascii").rstrip("=")


def from_unpadded_b64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


@dataclass(frozen=True)
class Seeds:
    """The private halves of the three keys (32-byte Ed25519 seeds). Whoever has them is the bot."""

    user_id: str
    master: bytes
    self_signing: bytes
    user_signing: bytes

    @classmethod
    def generate(cls, user_id: str) -> Seeds:
        return cls(user_id, *(Ed25519PrivateKey.generate().private_bytes_raw() for _ in USAGES))

    def seed(self, usage: str) -> bytes:
        return {"master": self.master, "self_signing": self.self_signing, "user_signing": self.user_signing}[usage]

    def public(self, usage: str) -> str:
        """The public key of `usage`, unpadded base64 (it is also the key's id after `ed25519:`)."""
        return public_key(self.seed(usage))

    def to_json(self) -> str:
        return json.dumps(
            {"version": SEEDS_VERSION, "user_id": self.user_id, **{u: unpadded_b64(self.seed(u)) for u in USAGES}},
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str, user_id: str) -> Seeds:
        try:
            data = json.loads(text)
            seeds = [from_unpadded_b64(data[u]) for u in USAGES]
        except (ValueError, KeyError, TypeError) as exc:
            raise SeedsError(f"not a cross-signing seeds file ({type(exc).__name__})") from None
        if data.get("version") != SEEDS_VERSION or any(len(s) != 32 for s in seeds):
            raise SeedsError("not a cross-signing seeds file of this version")
        if data.get("user_id") != user_id:
            raise SeedsError(f"the seeds are for {data.get('user_id')!r}, not for {user_id}")
        return cls(user_id, *seeds)


def public_key(seed: bytes) -> str:
    raw = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
    return unpadded_b64(raw)


def signed_bytes(obj: dict[str, Any]) -> bytes:
    """What a signature covers: the canonical JSON of the object without `signatures` and `unsigned`."""
    return encode_canonical_json({k: v for k, v in obj.items() if k not in ("signatures", "unsigned")})


def sign_json(obj: dict[str, Any], user_id: str, seed: bytes) -> dict[str, Any]:
    """A copy of `obj` with the signature of `seed`'s key added under `user_id` (others kept)."""
    signature = unpadded_b64(Ed25519PrivateKey.from_private_bytes(seed).sign(signed_bytes(obj)))
    signatures = {user: dict(keys) for user, keys in (obj.get("signatures") or {}).items()}
    signatures.setdefault(user_id, {})["ed25519:" + public_key(seed)] = signature
    return {**obj, "signatures": signatures}


def has_valid_signature(obj: dict[str, Any], user_id: str, public: str, key_id: str | None = None) -> bool:
    """Whether `obj` carries a valid signature by the key `public` of `user_id`.

    The signature is looked for under `ed25519:<key_id>`; a cross-signing key's id is its public
    key (the default), a device's own key's id is the device id.
    """
    signatures = obj.get("signatures")
    by_user = signatures.get(user_id) if isinstance(signatures, dict) else None
    signature = by_user.get("ed25519:" + (key_id or public)) if isinstance(by_user, dict) else None
    if not isinstance(signature, str) or not isinstance(public, str):
        return False
    try:
        Ed25519PublicKey.from_public_bytes(from_unpadded_b64(public)).verify(
            from_unpadded_b64(signature), signed_bytes(obj)
        )
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def key_object(user_id: str, usage: str, seeds: Seeds) -> dict[str, Any]:
    """The public key object of one of the three keys; self-signing and user-signing signed by the master."""
    public = seeds.public(usage)
    obj: dict[str, Any] = {"user_id": user_id, "usage": [usage], "keys": {"ed25519:" + public: public}}
    return obj if usage == "master" else sign_json(obj, user_id, seeds.master)


def upload_body(seeds: Seeds) -> dict[str, Any]:
    """The body of `POST /keys/device_signing/upload` (without `auth`)."""
    return {f"{usage}_key": key_object(seeds.user_id, usage, seeds) for usage in USAGES}


def signed_device(device_keys: dict[str, Any], seeds: Seeds) -> dict[str, Any]:
    """The device's keys exactly as the server holds them, plus the self-signing key's signature.

    `unsigned` is left out: the server adds it.
    """
    return sign_json({k: v for k, v in device_keys.items() if k != "unsigned"}, seeds.user_id, seeds.self_signing)


def signatures_body(device_keys: dict[str, Any], seeds: Seeds) -> dict[str, Any]:
    """The body of `POST /keys/signatures/upload` that signs one of the bot's own devices."""
    return {seeds.user_id: {device_keys["device_id"]: signed_device(device_keys, seeds)}}


# --- what the homeserver holds, and what to do about it ----------------------------------


def _only_key(obj: Any) -> str | None:
    """The one ed25519 public key of a cross-signing key object, if it has exactly one."""
    keys = obj.get("keys") if isinstance(obj, dict) else None
    values = (
        [v for k, v in keys.items() if isinstance(k, str) and k.startswith("ed25519:")]
        if isinstance(keys, dict)
        else []
    )
    return values[0] if len(values) == 1 and isinstance(values[0], str) else None


@dataclass(frozen=True)
class ServerIdentity:
    """The account's cross-signing keys and one device's keys as `POST /keys/query` returned them."""

    master: str | None
    self_signing: str | None
    user_signing: str | None
    device_keys: dict[str, Any] | None

    @classmethod
    def from_query(cls, response: dict[str, Any], user_id: str, device_id: str) -> ServerIdentity:
        def key(section: str) -> str | None:
            return _only_key((response.get(section) or {}).get(user_id))

        device = ((response.get("device_keys") or {}).get(user_id) or {}).get(device_id)
        return cls(
            key("master_keys"),
            key("self_signing_keys"),
            key("user_signing_keys"),
            device if isinstance(device, dict) else None,
        )

    def matches(self, seeds: Seeds) -> bool:
        """The keys on the server are the saved ones (all three)."""
        return (self.master, self.self_signing, self.user_signing) == tuple(seeds.public(u) for u in USAGES)

    def device_signed_by(self, seeds: Seeds) -> bool:
        return self.device_keys is not None and has_valid_signature(
            self.device_keys, seeds.user_id, seeds.public("self_signing")
        )


class Action(Enum):
    CREATE = "create"  # no identity anywhere: make one, save the seeds, upload
    UPLOAD = "upload"  # saved seeds the server does not hold yet (a first upload that failed): upload them
    SIGN_DEVICE = "sign_device"  # the identity is in place; this device lacks its signature
    NOTHING = "nothing"  # identity in place, device signed
    FOREIGN = "foreign"  # the server holds a master key the bot has no seeds for: never replace it silently


def decide(seeds: Seeds | None, server: ServerIdentity) -> Action:
    """What start-up must do so the bot's device is signed by its own identity, replacing nothing."""
    if server.master is None:
        return Action.UPLOAD if seeds else Action.CREATE
    if seeds is None or server.master != seeds.public("master"):
        return Action.FOREIGN
    if not server.matches(seeds):
        return (
            Action.UPLOAD
        )  # same master, other sub-keys (set by hand?): put ours back (the server asks for the password)
    return Action.NOTHING if server.device_signed_by(seeds) else Action.SIGN_DEVICE


# --- other people's identities -------------------------------------------------------------


@dataclass(frozen=True)
class DeviceKeys:
    """A device's two identity keys, as its own signed device-keys object states them."""

    device_id: str
    ed25519: str
    curve25519: str


@dataclass(frozen=True)
class MemberKeys:
    """One account's cross-signing identity and devices as `POST /keys/query` returned them, checked.

    `master` is the account's master key (None: the account has no cross-signing); `self_signing`
    its self-signing key, only if the master key signed it; `devices` every device whose keys
    object is well formed and signed by the device's own key; `signed` the ids of those the
    self-signing key signed: the devices the account's owner verified, as Element counts them
    (device ← self-signing key ← master key). Nothing here says whether the master key is the
    owner's: that is for whoever pins it (trust on first use, homeward.work.trust).
    """

    user_id: str
    master: str | None
    self_signing: str | None
    devices: dict[str, DeviceKeys]
    signed: frozenset[str]

    def signed_device(self, device_id: str) -> DeviceKeys | None:
        """The device's keys if the account's identity signed them."""
        return self.devices.get(device_id) if device_id in self.signed else None


def _cross_signing_key(obj: Any, user_id: str, usage: str) -> str | None:
    """The public key of a cross-signing key object of `user_id` for `usage`, if it is one."""
    if not isinstance(obj, dict) or obj.get("user_id") != user_id:
        return None
    usages = obj.get("usage")
    if not isinstance(usages, list) or usage not in usages:
        return None
    return _only_key(obj)


def _device_keys(obj: Any, user_id: str, device_id: str) -> DeviceKeys | None:
    """A device's keys object, if it names this user and device and carries the device's own signature."""
    if not isinstance(obj, dict) or obj.get("user_id") != user_id or obj.get("device_id") != device_id:
        return None
    keys = obj.get("keys")
    if not isinstance(keys, dict):
        return None
    ed25519, curve25519 = keys.get("ed25519:" + device_id), keys.get("curve25519:" + device_id)
    if not isinstance(ed25519, str) or not isinstance(curve25519, str):
        return None
    if not has_valid_signature(obj, user_id, ed25519, key_id=device_id):
        return None
    return DeviceKeys(device_id, ed25519, curve25519)


def member_keys(response: dict[str, Any], user_id: str) -> MemberKeys:
    """`user_id`'s identity and devices in a `/keys/query` answer, each signature checked (spec,
    "Cross-signing"): the self-signing key counts only if the master key signed it, a device only if
    its own key signed its keys object, and it is the identity's only if the self-signing key did too."""

    def section(name: str) -> dict[str, Any]:
        value = response.get(name)
        return value if isinstance(value, dict) else {}

    master_obj = section("master_keys").get(user_id)
    master = _cross_signing_key(master_obj, user_id, "master")
    self_signing_obj = section("self_signing_keys").get(user_id)
    self_signing = _cross_signing_key(self_signing_obj, user_id, "self_signing")
    if (
        master is None
        or not isinstance(self_signing_obj, dict)
        or not has_valid_signature(self_signing_obj, user_id, master)
    ):
        self_signing = None
    devices: dict[str, DeviceKeys] = {}
    signed: set[str] = set()
    listed = section("device_keys").get(user_id)
    for device_id, obj in listed.items() if isinstance(listed, dict) else ():
        if not isinstance(device_id, str):
            continue
        keys = _device_keys(obj, user_id, device_id)
        if keys is None:
            continue
        devices[device_id] = keys
        if self_signing is not None and has_valid_signature(obj, user_id, self_signing):
            signed.add(device_id)
    return MemberKeys(user_id, master, self_signing, devices, frozenset(signed))
