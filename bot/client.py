"""matrix-nio's client with one guard against a race in its group-session handling.

While a message is being sent (`room_send`: share the room key, then encrypt), the sync
loop may process a membership change, which makes nio drop the room's outbound session.
nio then encrypts with a fresh session it never shared, and nobody can read that message.
Handling a sync response and sending a message therefore take the same lock.

And one saving on the way from a sync to an answer: nio writes the rooms that became
encrypted into its store after every sync, looking up its account in that store (a
blocking SQLite query) even when there are none; with none, nothing is looked up.

And the cross-signing keys of `/keys/query`: nio keeps only the device keys of its answer
(it has no cross-signing, its issue #229). The answer is read again with the members'
master and self-signing keys kept, and handed to `on_keys` (homeward.bot.devices) once nio
has taken in the devices, before anything can share a room key with one of them.

And the relation of a decrypted event: when the ciphertext has no `m.relates_to`, nio
copies the one of the clear wrapper into the decrypted event, and the wrapper is written by
the sender's client and homeserver. The relation the ciphertext itself carried is kept as
the event's `homeward_relation` (None: none inside), for what must be decided from the
encrypted payload alone (which consent request a "ja" answers: homeward.bot.events).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from nio import Api, AsyncClient, KeysQueryError, KeysQueryResponse, LocalProtocolError, Response, SyncResponse
from nio.events import Event, MegolmEvent

#: The attribute of a decrypted nio event that holds the `m.relates_to` of its ciphertext (None: none there).
RELATION_INSIDE = "homeward_relation"


@dataclass
class KeysQueryWithIdentities(KeysQueryResponse):
    """nio's answer to `/keys/query`, with the cross-signing keys it drops."""

    master_keys: dict[str, Any] = field(default_factory=dict)
    self_signing_keys: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, parsed_dict: dict[Any, Any]) -> Any:
        response = super().from_dict(parsed_dict)
        if isinstance(response, cls):
            for name in ("master_keys", "self_signing_keys"):
                value = parsed_dict.get(name)
                setattr(response, name, value if isinstance(value, dict) else {})
        return response

    def as_dict(self) -> dict[str, Any]:
        """The parts of the answer homeward.matrix.cross_signing.member_keys reads."""
        return {
            "device_keys": self.device_keys,
            "master_keys": self.master_keys,
            "self_signing_keys": self.self_signing_keys,
        }


class HomewardClient(AsyncClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.crypto_lock = asyncio.Lock()
        #: Called with each `/keys/query` answer nio has taken in (homeward.bot.devices.MemberDevices.on_keys).
        self.on_keys: Callable[[KeysQueryWithIdentities], Awaitable[None]] | None = None
        #: Which member devices get the room keys: homeward.bot.devices.MemberDevices, once the bot runs.
        self.member_devices: Any = None

    def load_store(self) -> None:
        super().load_store()
        store = self.store
        if store is not None and "save_encrypted_rooms" not in vars(store):
            save = store.save_encrypted_rooms
            store.save_encrypted_rooms = lambda rooms: save(rooms) if rooms else None
        olm = self.olm
        if olm is not None and "decrypt_megolm_event" not in vars(olm):
            olm.decrypt_megolm_event = _keeping_inner_relation(olm.decrypt_megolm_event)

    async def keys_query(self) -> KeysQueryResponse | KeysQueryError:
        """nio's key query, keeping the cross-signing keys of the answer for `on_keys`."""
        users = self.users_for_key_query
        if not users:
            raise LocalProtocolError("No key query required.")
        method, path, data = Api.keys_query(self.access_token, users)
        response = await self._send(KeysQueryWithIdentities, method, path, data)
        if isinstance(response, KeysQueryWithIdentities) and self.on_keys is not None:
            await self.on_keys(response)
        return response

    async def receive_response(self, response: Response) -> None:
        if isinstance(response, SyncResponse):
            async with self.crypto_lock:
                await super().receive_response(response)
        else:
            await super().receive_response(response)


def _keeping_inner_relation(decrypt: Callable[..., Any]) -> Callable[..., Any]:
    """nio's Megolm decryption, told nothing of the clear wrapper's relation, which is put back afterwards."""

    def decrypt_megolm_event(event: MegolmEvent, room_id: str | None = None) -> Any:
        content = event.source.get("content") if isinstance(event.source, dict) else None
        outside = content.pop("m.relates_to", None) if isinstance(content, dict) else None
        try:
            decrypted = decrypt(event, room_id)
        finally:
            if outside is not None and isinstance(content, dict):
                content["m.relates_to"] = outside
        if isinstance(decrypted, Event):
            inner_content = decrypted.source.get("content") if isinstance(decrypted.source, dict) else None
            inside = inner_content.get("m.relates_to") if isinstance(inner_content, dict) else None
            setattr(decrypted, RELATION_INSIDE, inside if isinstance(inside, dict) else None)
            if outside is not None and isinstance(inner_content, dict) and inside is None:
                inner_content["m.relates_to"] = outside  # as nio does: edits, threads and reactions go by it
        return decrypted

    return decrypt_megolm_event
