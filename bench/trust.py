"""What the identity checks cost: per command, per message sent, and once per member's keys.

No homeserver. The bot's real MemberDevices over a real store (a temporary file) and nio's
real device store; nio's Olm machine is replaced by a stand-in that holds the inbound group
sessions (a dictionary lookup, as nio's own store is) and records the marks. A care room of
`--members` people with three devices each (two verified, one not), their keys learned once
from a `/keys/query`-shaped answer signed with `cryptography` as clients sign them.

- per command: `MemberDevices.event_verdict` for a message from a verified device — what the
  bot adds to every encrypted command (the trust book is in memory: no SQL);
- per message: `MemberDevices.before_send` for the room — the marks checked for every device
  of every member before the room key may be shared (nothing to change: the steady state);
- once: `keys_learned` + the marks for the whole room's answer (first start of this release,
  or everybody's devices changing at once): signatures checked, rows written, audit rows.

    .venv/bin/python bench/trust.py [--members 50] [--runs 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from common import header, percentile
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nio.crypto import DeviceStore, OlmDevice, TrustState

from homeward.bot.devices import MemberDevices
from homeward.care.pathway import default_pathways_dir, load_pathways
from homeward.config import Config
from homeward.matrix.cross_signing import Seeds, public_key, sign_json, unpadded_b64
from homeward.messages.catalog import Catalog
from homeward.store.db import Store
from homeward.work.services import Services
from tests.clock import FakeClock

ROOM = "!care:bench"


def account(user_id: str, n_devices: int = 3) -> tuple[dict[str, Any], list[OlmDevice]]:
    """A `/keys/query` answer for one account (master, self-signing, devices: all but the last signed)."""
    seeds = Seeds.generate(user_id)
    master, ssk = seeds.public("master"), seeds.public("self_signing")
    devices: dict[str, Any] = {}
    olm_devices = []
    for n in range(n_devices):
        device_id = f"DEV{n}"
        key = Ed25519PrivateKey.generate().private_bytes_raw()
        ed, curve = public_key(key), unpadded_b64(bytes([n + 1]) * 32)
        obj: dict[str, Any] = {
            "user_id": user_id,
            "device_id": device_id,
            "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
            "keys": {f"ed25519:{device_id}": ed, f"curve25519:{device_id}": curve + user_id[1:4]},
        }
        obj = sign_json(obj, user_id, key)
        signatures = obj["signatures"][user_id]
        signatures[f"ed25519:{device_id}"] = signatures.pop("ed25519:" + ed)
        if n < n_devices - 1:
            obj = sign_json(obj, user_id, seeds.self_signing)
        devices[device_id] = obj
        olm_devices.append(
            OlmDevice(user_id, device_id, {"ed25519": ed, "curve25519": obj["keys"][f"curve25519:{device_id}"]})
        )
    answer = {
        "device_keys": {user_id: devices},
        "master_keys": {user_id: {"user_id": user_id, "usage": ["master"], "keys": {f"ed25519:{master}": master}}},
        "self_signing_keys": {
            user_id: sign_json(
                {"user_id": user_id, "usage": ["self_signing"], "keys": {f"ed25519:{ssk}": ssk}}, user_id, seeds.master
            )
        },
    }
    return answer, olm_devices


class Client(SimpleNamespace):
    """What MemberDevices asks of nio's client, with nio's own DeviceStore."""

    def verify_device(self, device: OlmDevice) -> None:
        device.trust_state = TrustState.verified

    def blacklist_device(self, device: OlmDevice) -> None:
        device.trust_state = TrustState.blacklisted

    def unblacklist_device(self, device: OlmDevice) -> None:
        device.trust_state = TrustState.unset


async def run(members: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = await Store.open(Path(folder) / "bench.sqlite3")
        config = Config.model_validate({"homeserver": "http://127.0.0.1:1", "user_id": "@bot:bench", "password": "x"})
        services = Services(
            config=config,
            catalog=Catalog(),
            clock=FakeClock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC)),
            pathways=load_pathways(default_pathways_dir()),
        )
        device_store = DeviceStore()
        answers = []
        for n in range(members):
            answer, olm_devices = account(f"@member{n:03d}:bench")
            answers.append(answer)
            for device in olm_devices:
                device_store.add(device)
        sessions: dict[tuple[str, str, str], Any] = {}
        first = answers[0]["device_keys"]["@member000:bench"]["DEV0"]["keys"]
        sessions[(ROOM, first["curve25519:DEV0"], "S")] = SimpleNamespace(
            ed25519=first["ed25519:DEV0"], forwarding_chain=[]
        )
        olm = SimpleNamespace(
            inbound_group_store=SimpleNamespace(get=lambda room, key, sid: sessions.get((room, key, sid))),
            users_for_key_query=set(),
        )
        client = Client(
            user_id="@bot:bench",
            olm=olm,
            device_store=device_store,
            rooms={ROOM: SimpleNamespace(users={f"@member{n:03d}:bench": None for n in range(members)})},
            should_query_keys=False,
            crypto_lock=asyncio.Lock(),
        )
        devices = MemberDevices(cast(Any, client), store, services, enabled=True)
        await devices.start()
        merged: dict[str, Any] = {"device_keys": {}, "master_keys": {}, "self_signing_keys": {}}
        for answer in answers:
            for section in merged:
                merged[section].update(answer[section])
        response = SimpleNamespace(as_dict=lambda: merged)

        started = time.perf_counter()
        await devices.on_keys(cast(Any, response))
        learned_ms = (time.perf_counter() - started) * 1000
        blacklisted = sum(d.trust_state == TrustState.blacklisted for d in device_store)

        event = SimpleNamespace(sender="@member000:bench", sender_key=first["curve25519:DEV0"], session_id="S")
        verdict_us: list[float] = []
        for _ in range(runs):
            t = time.perf_counter()
            verdict, _device = await devices.event_verdict(ROOM, event)
            verdict_us.append((time.perf_counter() - t) * 1e6)
        assert verdict.value == "trusted", verdict
        send_us: list[float] = []
        for _ in range(runs):
            t = time.perf_counter()
            await devices.before_send(ROOM)
            send_us.append((time.perf_counter() - t) * 1e6)
        await store.close()

    print(f"room of {members} members, {3 * members} devices ({blacklisted} not verified, blacklisted)")
    print(f"keys learned once (signatures, rows, audit, marks): {learned_ms:.1f} ms")
    for name, values in (
        ("per command: event_verdict", verdict_us),
        ("per message sent: before_send", send_us),
    ):
        print(
            f"{name}: p50 {statistics.median(values):.1f} µs, p95 {percentile(values, 95):.1f} µs, "
            f"max {max(values):.1f} µs ({len(values)} runs)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--runs", type=int, default=2000)
    args = parser.parse_args()
    header("What the identity checks cost (bench/trust.py)", f"{args.runs} per measure, {args.members} members")
    asyncio.run(run(args.members, args.runs))


if __name__ == "__main__":
    main()
