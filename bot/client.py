"""matrix-nio's client with one guard against a race in its group-session handling.

While a message is being sent (`room_send`: share the room key, then encrypt), the sync
loop may process a membership change, which makes nio drop the room's outbound session.
nio then encrypts with a fresh session it never shared, and nobody can read that message.
Handling a sync response and sending a message therefore never overlap: the sync takes
`crypto_lock` for itself (exclusive), sends take it together (`CryptoLock.shared`), so the
outbox sender's sends into different rooms overlap each other's HTTP requests while no
sync response is handled in the middle of any of them. Olm and Megolm work itself is
synchronous Python between two awaits, so it never interleaves (bot/sender.py).

Savings on the way from a sync to an answer (the bot's own CPU per event, BENCHMARKS.md):
- nio writes the rooms that became encrypted into its store after every sync, looking up its
  account in that store (a blocking SQLite query) even when there are none; with none,
  nothing is looked up.
- nio checks every sync response and every event against its JSON schemas with `jsonschema`,
  which interprets the schema anew each time: about three quarters of the CPU of parsing a
  sync went there. The same schemas are compiled once into Python code by `fastjsonschema`
  (draft 4, defaults filled in as nio's validator does); a failure raises jsonschema's
  ValidationError as before, so nio turns a malformed event into a BadEvent as it always did.
- The bot's own messages come back in its sync; nio decrypted each (Megolm, then the schema
  check of the plaintext) only for the bot to ignore it (`bot/app.py`). They are left encrypted.

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
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import fastjsonschema
import jsonschema
import nio.crypto.olm_machine
import nio.events.misc
import nio.responses
import nio.schemas
from nio import (
    Api,
    AsyncClient,
    KeysQueryError,
    KeysQueryResponse,
    LocalProtocolError,
    MatrixRoom,
    MegolmEvent,
    Response,
    SyncResponse,
)
from nio.events import Event

_COMPILED: dict[int, tuple[object, Callable[[Any], Any] | None]] = {}  # id(schema) -> (the schema, its check)
_FORMATS: dict[str, str | Callable[[Any], bool]] = {
    "user_id": lambda value: not isinstance(value, str) or (value.startswith("@") and ":" in value),
    "http_url": r"^https?://.+",
}


def validate_json(instance: object, schema: dict) -> None:
    """nio's `schemas.validate_json`, compiled once per schema (nio's schemas are module constants)."""
    known = _COMPILED.get(id(schema))
    if known is None or known[0] is not schema:
        try:
            check = fastjsonschema.compile(schema, formats=_FORMATS)
        except fastjsonschema.JsonSchemaDefinitionException:
            check = None  # a schema the compiler cannot take: checked as nio does
        known = _COMPILED[id(schema)] = (schema, check)
    check = known[1]
    if check is None:
        _jsonschema_validate(instance, schema)
        return
    try:
        check(instance)
    except fastjsonschema.JsonSchemaValueException as failure:
        raise jsonschema.ValidationError(failure.message) from None


_jsonschema_validate = nio.schemas.validate_json


def compile_nio_schemas() -> None:
    """From now on nio checks its schemas with compiled code (`validate_json`); done by the first HomewardClient.

    Not at import: a bare nio client that imports some Homeward module (the benchmarks' floor
    imports the sync filter) keeps nio as it is.
    """
    for module in (nio.schemas, nio.responses, nio.events.misc, nio.crypto.olm_machine):
        module.validate_json = validate_json


class CryptoLock:
    """A read-write lock: `async with lock:` is the exclusive side (the sync loop, key housekeeping,
    anything that changes which devices get a room key); `async with lock.shared():` the side that
    any number of sends hold at once.

    A waiting exclusive holder goes first: sends that arrive after it wait behind it (asyncio.Lock
    is first come, first served), so a steady stream of sends never starves the sync loop.
    """

    def __init__(self) -> None:
        self._gate = asyncio.Lock()  # held by the exclusive side; passed through by each shared entrant
        self._shared = 0
        self._no_shared = asyncio.Event()
        self._no_shared.set()

    async def acquire(self) -> None:
        await self._gate.acquire()
        try:
            await self._no_shared.wait()  # the sends in flight finish; new ones queue at the gate
        except BaseException:
            self._gate.release()
            raise

    def release(self) -> None:
        self._gate.release()

    def locked(self) -> bool:
        return self._gate.locked()

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.release()

    @asynccontextmanager
    async def shared(self) -> AsyncIterator[None]:
        async with self._gate:
            self._shared += 1
            self._no_shared.clear()
        try:
            yield
        finally:
            self._shared -= 1
            if self._shared == 0:
                self._no_shared.set()

    @property
    def sharing(self) -> int:
        """How many hold the shared side now (tests, measurements)."""
        return self._shared


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
        compile_nio_schemas()
        self.crypto_lock = CryptoLock()
        #: The bot's own messages in its sync are left encrypted (the bot sets it; people's clients read theirs).
        self.leave_own_encrypted = False
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

    def _handle_timeline_event(self, event: Any, room_id: str, room: MatrixRoom, encrypted_rooms: set[str]) -> Any:
        """The bot's own encrypted messages stay encrypted: nothing reads them (see the module's docstring)."""
        if self.leave_own_encrypted and isinstance(event, MegolmEvent) and event.sender == self.user_id:
            room.handle_event(event)
            return None
        return super()._handle_timeline_event(event, room_id, room, encrypted_rooms)

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
