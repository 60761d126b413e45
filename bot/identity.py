"""The bot's cross-signing identity on the homeserver: set up once, its device signed at every start.

Without it Element marks every message of the bot "Encrypted by a device not verified by
its owner" (a red shield), and a user with *exclude insecure devices* on sends the bot no
room keys at all. The keys and signed objects are built in homeward.matrix.cross_signing; this
module talks to the homeserver and keeps the seeds.

The seeds are written before anything is uploaded (owner-only, next to the crypto store,
in `data_dir`): keys the server holds but nobody has could only ever be replaced, and
every member would see an "identity reset" notice. A master key on the server without
saved seeds is never replaced here; `homeward reset-identity` does that, on purpose.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import ClientError
from nio import AsyncClient

from homeward.bot.sealed import SealError, is_sealed, seal, unseal, write_private
from homeward.matrix.cross_signing import (
    Action,
    Seeds,
    SeedsError,
    ServerIdentity,
    decide,
    signatures_body,
    upload_body,
)

log = logging.getLogger(__name__)

SEEDS_FILE = "cross-signing-keys.json"
PENDING_FILE = "cross-signing-keys.new.json"  # a reset's new seeds, until the server holds them
API = "/_matrix/client/v3"


class IdentityError(Exception):
    """The identity could not be set up or checked; the bot goes on unsigned."""


@dataclass(frozen=True)
class Outcome:
    action: Action  # what this start (or reset) had to do
    master: str  # the public master key now on the server; this device carries its signature


# --- the seeds on disk ------------------------------------------------------------------


def seeds_path(data_dir: Path) -> Path:
    return data_dir / SEEDS_FILE


#: What sealed seeds are bound to (`bot.sealed`: the associated data).
SEEDS_PURPOSE = "homeward cross-signing seeds"


def load_seeds(path: Path, user_id: str, store_key: str | None = None) -> Seeds | None:
    """The saved seeds; sealed ones (issue 23) are opened with the store key. Seeds saved in clear by an
    older Homeward are sealed in place when a key is given."""
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text)
        if is_sealed(data):
            if store_key is None:
                raise IdentityError(f"{path}: the seeds are sealed with the store key, and there is none")
            return Seeds.from_json(unseal(data, store_key, SEEDS_PURPOSE).decode("utf-8"), user_id)
        seeds = Seeds.from_json(text, user_id)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, SeedsError, SealError) as exc:
        raise IdentityError(f"{path}: {exc}") from None
    if store_key:
        save_seeds(path, seeds, store_key)
        log.info("cross-signing: the seeds in %s are sealed with the store key now", path)
    return seeds


def save_seeds(path: Path, seeds: Seeds, store_key: str | None = None) -> None:
    """Owner-only, flushed to disk, then moved into place: the seeds exist before any upload. Sealed with the
    store key when there is one: a copy of the data folder without the key cannot sign a device as the bot's."""
    text = seeds.to_json()
    if store_key:
        text = json.dumps({**seal(text.encode("utf-8"), store_key, SEEDS_PURPOSE), "purpose": SEEDS_PURPOSE})
    try:
        write_private(path, text)
    except OSError as exc:
        raise IdentityError(f"cannot save the cross-signing seeds to {path}: {exc}") from None


# --- the homeserver -------------------------------------------------------------------------


async def _request(client: AsyncClient, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {client.access_token}"}
    try:
        response = await client.send("POST", API + path, json.dumps(body), headers)
        try:
            data = await response.json(content_type=None)
        except ValueError:
            data = {}
        return response.status, data if isinstance(data, dict) else {}
    except (ClientError, TimeoutError) as exc:
        raise IdentityError(f"{path}: the homeserver could not be reached ({type(exc).__name__})") from None


async def query(client: AsyncClient) -> ServerIdentity:
    status, data = await _request(client, "/keys/query", {"device_keys": {client.user_id: []}})
    if status != 200:
        raise IdentityError(f"/keys/query answered {status} {data.get('errcode', '')}")
    return ServerIdentity.from_query(data, client.user_id, client.device_id)


def _password_auth(user_id: str, password: str, session: str | None) -> dict[str, Any]:
    auth: dict[str, Any] = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": user_id},
        "password": password,
    }
    if session:
        auth["session"] = session
    return auth


async def upload_keys(client: AsyncClient, seeds: Seeds, password: str | None) -> None:
    """`/keys/device_signing/upload`, with password user-interactive auth when the server asks for it.

    A first upload needs none on servers with MSC3967 (Synapse ≥ 1.110); replacing keys does.
    """
    body = upload_body(seeds)
    status, data = await _request(client, "/keys/device_signing/upload", body)
    if status == 401 and "flows" in data:
        flows = [flow.get("stages") for flow in data.get("flows", []) if isinstance(flow, dict)]
        if ["m.login.password"] not in flows:
            raise IdentityError(
                f"the homeserver wants {flows} to accept cross-signing keys; only a password can be given"
            )
        if not password:
            raise IdentityError(
                "the homeserver asks for the bot's password to accept its cross-signing keys; none is configured"
            )
        status, data = await _request(
            client,
            "/keys/device_signing/upload",
            {**body, "auth": _password_auth(client.user_id, password, data.get("session"))},
        )
        if status == 401:
            raise IdentityError("the homeserver did not accept the password for replacing the cross-signing keys")
    if status != 200:
        raise IdentityError(
            f"/keys/device_signing/upload answered {status} {data.get('errcode', '')} {data.get('error', '')}".rstrip()
        )


async def sign_device(client: AsyncClient, server: ServerIdentity, seeds: Seeds) -> None:
    """Sign the device's keys, exactly as the server holds them, with the self-signing key."""
    if server.device_keys is None:
        raise IdentityError(f"the homeserver has no keys for device {client.device_id} to sign")
    status, data = await _request(client, "/keys/signatures/upload", signatures_body(server.device_keys, seeds))
    failures = data.get("failures") or {}
    if status != 200 or failures:  # a 200 can still list failures, per key
        raise IdentityError(f"/keys/signatures/upload answered {status}, failures {json.dumps(failures)[:300]}")


async def ensure(client: AsyncClient, data_dir: Path, password: str | None, store_key: str | None = None) -> Outcome:
    """Make the bot's device carry its identity's signature, creating the identity the first time.

    Idempotent: each start queries the keys and does only what is missing. Raises
    IdentityError when it cannot; the caller goes on unsigned.
    """
    path = seeds_path(data_dir)
    server = await query(client)
    seeds = _adopt_pending(data_dir, client.user_id, server, store_key)
    action = decide(seeds, server)
    if action is Action.FOREIGN:
        raise IdentityError(
            f"the homeserver holds a cross-signing identity for {client.user_id} (master key {server.master}) "
            f"whose keys are not in {path}: the bot's messages stay unverified in Element. If those keys are lost, "
            "run `homeward reset-identity --config FILE` (members will see that the bot's identity was reset)"
        )
    if action is Action.CREATE:
        seeds = Seeds.generate(client.user_id)
        save_seeds(path, seeds, store_key)  # first: never keys on the server that nobody has
        log.info(
            "cross-signing: new identity, master key %s; seeds saved to %s (back them up)", seeds.public("master"), path
        )
    assert seeds is not None
    if action in (Action.CREATE, Action.UPLOAD):
        await upload_keys(client, seeds, password)
        log.info("cross-signing: keys uploaded (master %s)", seeds.public("master"))
        server = await query(client)
    if not server.device_signed_by(seeds):
        await sign_device(client, server, seeds)
        log.info("cross-signing: device %s signed with the self-signing key", client.device_id)
    return Outcome(action, seeds.public("master"))


def _adopt_pending(data_dir: Path, user_id: str, server: ServerIdentity, store_key: str | None) -> Seeds | None:
    """The saved seeds; a reset's new ones once the server holds them (it stopped after uploading)."""
    path, pending_path = seeds_path(data_dir), data_dir / PENDING_FILE
    pending = load_seeds(pending_path, user_id, store_key)
    if pending is not None:
        if server.master == pending.public("master"):
            os.replace(pending_path, path)
            log.warning("cross-signing: adopted the keys of an interrupted reset (master %s)", server.master)
        else:
            pending_path.unlink()  # the reset never reached the server
    return load_seeds(path, user_id, store_key)


async def reset(client: AsyncClient, data_dir: Path, password: str, store_key: str | None = None) -> Outcome:
    """Replace the account's identity with a new one (`homeward reset-identity`), and sign this device.

    The new seeds are saved aside first and take the place of the old ones once the server
    holds the new keys; a failed reset leaves the old identity and its seeds as they were.
    """
    pending_path = data_dir / PENDING_FILE
    seeds = Seeds.generate(client.user_id)
    save_seeds(pending_path, seeds, store_key)
    try:
        await upload_keys(client, seeds, password)
    except IdentityError:
        pending_path.unlink(missing_ok=True)
        raise
    os.replace(pending_path, seeds_path(data_dir))
    log.warning("cross-signing: identity reset, new master key %s", seeds.public("master"))
    server = await query(client)
    await sign_device(client, server, seeds)
    return Outcome(Action.CREATE, seeds.public("master"))
