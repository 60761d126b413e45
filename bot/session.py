"""Logging in once and staying the same device, with its encryption keys, across restarts.

The access token and device id are kept in `data_dir/credentials.json`; the Olm/Megolm
keys in `data_dir/crypto/`, pickled with the store key (`bot/store_key.py`). If the keys
are lost while the device id is reused, the homeserver refuses the key upload ("One time
key … already exists") and the other members' clients stop trusting the bot. We detect
that and log in as a new device, then remove the bot's stale devices so they stop
receiving room keys.

Once the device's keys are on the server, it is signed with the bot's cross-signing
identity (homeward.bot.identity), so Element trusts it; a new device after a lost store
is signed with the same saved identity.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from nio import (
    AsyncClient,
    AsyncClientConfig,
    DeleteDevicesAuthResponse,
    DevicesResponse,
    KeysUploadError,
    LoginResponse,
    WhoamiResponse,
)

from homeward.bot import identity
from homeward.bot.client import HomewardClient
from homeward.bot.sealed import SealError, seal, unseal, write_private
from homeward.bot.store_key import store_key

log = logging.getLogger(__name__)

# Fail a request after this many connection timeouts, so the sync loop can back off
# and say so in the log instead of nio retrying silently forever.
MAX_TIMEOUTS = 2


class LoginFailed(Exception):
    """The homeserver refused the bot's credentials; nothing to retry."""


@dataclass(frozen=True)
class Credentials:
    homeserver: str
    user_id: str
    device_id: str
    access_token: str


#: What the sealed access token is bound to (`bot.sealed`: the associated data).
TOKEN_PURPOSE = "homeward access token"


@dataclass(frozen=True)
class Device:
    """Which device the saved credentials are of (nothing secret: readable without the store key)."""

    homeserver: str
    user_id: str
    device_id: str
    sealed: bool  # the access token is sealed with the store key


def load_device(path: Path) -> Device | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Device(data["homeserver"], data["user_id"], data["device_id"], "access_token_sealed" in data)
    except FileNotFoundError:
        return None
    except (ValueError, TypeError, KeyError):
        log.warning("credentials file %s is unreadable; logging in again", path)
        return None


def load_credentials(path: Path, store_key: str | None = None) -> Credentials | None:
    """The saved device and its access token; a sealed token is opened with `store_key` (None when it
    cannot be: no key, or another key — then the bot logs in again)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        sealed = data.get("access_token_sealed")
        if sealed is not None:
            if store_key is None:
                log.warning("the access token in %s is sealed with the store key, and there is none", path)
                return None
            token = unseal(sealed, store_key, TOKEN_PURPOSE).decode("utf-8")
        else:
            token = data["access_token"]
        return Credentials(data["homeserver"], data["user_id"], data["device_id"], token)
    except FileNotFoundError:
        return None
    except SealError:
        log.warning("the access token in %s does not open with the store key; logging in again", path)
        return None
    except (ValueError, TypeError, KeyError):
        log.warning("credentials file %s is unreadable; logging in again", path)
        return None


def save_credentials(path: Path, credentials: Credentials, store_key: str | None = None) -> None:
    """Write with owner-only permissions; the access token, as good as the password, sealed with the store
    key when there is one (`bot.sealed`): a copy of the data folder without the key holds no usable token."""
    data = asdict(credentials)
    if store_key:
        data["access_token_sealed"] = {**seal(data.pop("access_token").encode("utf-8"), store_key, TOKEN_PURPOSE)}
        data["access_token_sealed"]["purpose"] = TOKEN_PURPOSE
    write_private(path, json.dumps(data))


def crypto_store_exists(crypto_dir: Path, user_id: str, device_id: str) -> bool:
    return (crypto_dir / f"{user_id}_{device_id}.db").exists()


class Session:
    """Builds a logged-in nio client for the configured account."""

    def __init__(
        self,
        homeserver: str,
        user_id: str,
        data_dir: Path,
        device_name: str,
        password: str | None,
        access_token: str | None,
        encryption: bool,
        configured_store_key: str | None = None,
    ) -> None:
        self.homeserver = homeserver
        self.user_id = user_id
        self.device_name = device_name
        self.password = password
        self.access_token = access_token
        self.encryption = encryption
        self.configured_store_key = configured_store_key
        self.pickle_key = ""  # decided in connect(), once the saved device is known (bot/store_key.py)
        self.data_dir = data_dir
        self.credentials_path = data_dir / "credentials.json"
        self.crypto_dir = data_dir / "crypto"
        #: A restarted device's identity check, running beside the first sync (`connect`); None when done in it.
        self.cross_signing: asyncio.Task[None] | None = None

    def _client(self) -> HomewardClient:
        self.crypto_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        config = AsyncClientConfig(
            encryption_enabled=self.encryption,
            store_sync_tokens=False,  # Homeward keeps the sync token itself, after handling
            max_timeouts=MAX_TIMEOUTS,
            request_timeout=45,
            pickle_key=self.pickle_key,
        )
        client = HomewardClient(self.homeserver, self.user_id, store_path=str(self.crypto_dir), config=config)
        client.leave_own_encrypted = True  # the bot never reads back what it said
        return client

    async def connect(self) -> HomewardClient:
        """A client logged in as the saved device, or as a new one when that is unusable."""
        device = load_device(self.credentials_path)
        stale: str | None = None
        if device and (device.user_id, device.homeserver) != (self.user_id, self.homeserver):
            log.warning("saved credentials are for another account or homeserver; logging in again")
            device = None
        if device and self.encryption and not crypto_store_exists(self.crypto_dir, device.user_id, device.device_id):
            log.warning(
                "encryption store of device %s is missing: logging in as a new device "
                "(history encrypted for the old device stays unreadable)",
                device.device_id,
            )
            stale, device = device.device_id, None
        if self.encryption:
            key = store_key(
                self.crypto_dir, self.configured_store_key, *((device.user_id, device.device_id) if device else ())
            )
            self.pickle_key = key.value
        saved = load_credentials(self.credentials_path, self.pickle_key or None) if device else None
        if saved and device and self.pickle_key and not device.sealed:
            save_credentials(self.credentials_path, saved, self.pickle_key)  # written by an older Homeward: sealed now
        client = self._client()
        if saved:
            client.restore_login(saved.user_id, saved.device_id, saved.access_token)
            log.info("restored device %s", saved.device_id)
        else:
            await self._login(client)
        if self.encryption and client.should_upload_keys:
            response = await client.keys_upload()
            if isinstance(response, KeysUploadError):
                if "already exists" not in (response.message or ""):
                    raise LoginFailed(f"key upload refused: {response.message}")
                log.error(
                    "the homeserver already holds other keys for device %s (the encryption store was "
                    "lost or replaced): logging in as a new device",
                    client.device_id,
                )
                stale = client.device_id
                await client.close()
                self._forget_credentials()
                client = self._client()
                await self._login(client)
                await client.keys_upload()
        if stale:
            await self.remove_stale_devices(client)
        if self.encryption and saved and not stale:
            # A restart: the device was signed when it was new; that it still is, is checked beside the first
            # sync (a keys query and the seeds unsealed: ~0.1 s), not before it. The bot awaits it before `ready`.
            self.cross_signing = asyncio.create_task(self._cross_sign(client))
        elif self.encryption:
            await self._cross_sign(client)
        return client

    async def _cross_sign(self, client: AsyncClient) -> None:
        """Sign the device with the bot's identity; without it the bot still runs, unverified in Element."""
        try:
            await identity.ensure(client, self.data_dir, self.password, self.pickle_key or None)
        except identity.IdentityError as exc:
            log.error("cross-signing: %s; going on unsigned", exc)

    async def _login(self, client: AsyncClient) -> None:
        if self.password:
            response = await client.login(self.password, device_name=self.device_name)
            if not isinstance(response, LoginResponse):
                raise LoginFailed(f"login as {self.user_id} refused: {getattr(response, 'message', response)}")
        elif self.access_token:
            client.access_token = self.access_token
            whoami = await client.whoami()
            if not isinstance(whoami, WhoamiResponse) or not whoami.device_id:
                raise LoginFailed(f"the access token is not valid for {self.user_id}")
            client.restore_login(self.user_id, whoami.device_id, self.access_token)
        else:
            raise LoginFailed("neither password nor access_token is configured")
        save_credentials(
            self.credentials_path,
            Credentials(self.homeserver, self.user_id, client.device_id, client.access_token),
            self.pickle_key or None,
        )
        log.info("logged in as a new device %s", client.device_id)

    def _forget_credentials(self) -> None:
        self.credentials_path.unlink(missing_ok=True)

    async def remove_stale_devices(self, client: AsyncClient) -> None:
        """Delete the bot's other devices of the same name, so they stop receiving room keys."""
        response = await client.devices()
        if not isinstance(response, DevicesResponse):
            log.warning("could not list the bot's devices to remove stale ones")
            return
        stale = [d.id for d in response.devices if d.id != client.device_id and d.display_name == self.device_name]
        if not stale:
            return
        if not self.password:
            log.warning(
                "stale devices %s remain: removing them needs the password (access_token only configured)", stale
            )
            return
        first = await client.delete_devices(stale)
        session = first.session if isinstance(first, DeleteDevicesAuthResponse) else None
        auth = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": self.user_id},
            "password": self.password,
        }
        if session:
            auth["session"] = session
        result = await client.delete_devices(stale, auth)
        if type(result).__name__ == "DeleteDevicesResponse":
            log.info("removed %d stale device(s) of the bot: %s", len(stale), stale)
        else:
            log.warning("could not remove stale devices %s: %s", stale, getattr(result, "message", result))
