"""The bot's cross-signing objects are what the spec describes, checked by matrix-org's own signedjson."""

from __future__ import annotations

import pytest
from signedjson.key import decode_verify_key_bytes
from signedjson.sign import SignatureVerifyException, verify_signed_json

from homeward.matrix.cross_signing import (
    Action,
    Seeds,
    SeedsError,
    ServerIdentity,
    decide,
    from_unpadded_b64,
    has_valid_signature,
    signatures_body,
    upload_body,
)

BOT = "@homeward:example.org"
DEVICE = {
    "user_id": BOT,
    "device_id": "ABCDEFGHIJ",
    "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
    "keys": {"curve25519:ABCDEFGHIJ": "c" * 43, "ed25519:ABCDEFGHIJ": "d" * 43},
    "signatures": {BOT: {"ed25519:ABCDEFGHIJ": "s" * 86}},
    "unsigned": {"device_display_name": "Homeward"},
}


def verify(obj: dict, signer: str, public: str) -> None:
    """signedjson (Synapse's library) checks the signature by the key `public`, independently of ours."""
    verify_signed_json(obj, signer, decode_verify_key_bytes("ed25519:" + public, from_unpadded_b64(public)))


def test_the_self_signing_and_user_signing_keys_are_signed_by_the_master_key() -> None:
    seeds = Seeds.generate(BOT)
    body = upload_body(seeds)
    master = seeds.public("master")

    assert body["master_key"] == {"user_id": BOT, "usage": ["master"], "keys": {f"ed25519:{master}": master}}
    for usage in ("self_signing", "user_signing"):
        key = body[f"{usage}_key"]
        assert key["usage"] == [usage] and key["keys"] == {f"ed25519:{seeds.public(usage)}": seeds.public(usage)}
        verify(key, BOT, master)


def test_the_device_is_signed_by_the_self_signing_key_and_keeps_its_own_signature() -> None:
    seeds = Seeds.generate(BOT)
    signed = signatures_body(DEVICE, seeds)[BOT]["ABCDEFGHIJ"]

    verify(signed, BOT, seeds.public("self_signing"))
    assert signed["signatures"][BOT]["ed25519:ABCDEFGHIJ"] == "s" * 86
    assert {k: v for k, v in signed.items() if k != "signatures"} == {
        k: v for k, v in DEVICE.items() if k not in ("signatures", "unsigned")
    }
    with pytest.raises(SignatureVerifyException):
        verify({**signed, "device_id": "OTHER"}, BOT, seeds.public("self_signing"))


def test_a_signature_by_another_key_or_over_changed_keys_is_not_valid() -> None:
    seeds, other = Seeds.generate(BOT), Seeds.generate(BOT)
    signed = signatures_body(DEVICE, seeds)[BOT]["ABCDEFGHIJ"]

    assert has_valid_signature(signed, BOT, seeds.public("self_signing"))
    assert not has_valid_signature(signed, BOT, other.public("self_signing"))
    assert not has_valid_signature({**signed, "keys": {}}, BOT, seeds.public("self_signing"))


def test_seeds_survive_a_round_trip_and_belong_to_one_account() -> None:
    seeds = Seeds.generate(BOT)

    assert Seeds.from_json(seeds.to_json(), BOT) == seeds
    with pytest.raises(SeedsError, match="not for @other"):
        Seeds.from_json(seeds.to_json(), "@other:example.org")
    for broken in ("", "{}", '{"version": 1, "user_id": "@homeward:example.org", "master": "!!"}', "[1]"):
        with pytest.raises(SeedsError):
            Seeds.from_json(broken, BOT)


def _server(seeds: Seeds | None, device_signed_by: Seeds | None = None) -> ServerIdentity:
    device = signatures_body(DEVICE, device_signed_by)[BOT]["ABCDEFGHIJ"] if device_signed_by else DEVICE
    if seeds is None:
        return ServerIdentity(None, None, None, device)
    return ServerIdentity(seeds.public("master"), seeds.public("self_signing"), seeds.public("user_signing"), device)


def test_start_up_creates_an_identity_only_where_there_is_none_and_never_replaces_one() -> None:
    mine, foreign = Seeds.generate(BOT), Seeds.generate(BOT)

    assert decide(None, _server(None)) is Action.CREATE
    assert decide(mine, _server(None)) is Action.UPLOAD  # saved, but the upload never arrived
    assert decide(mine, _server(mine)) is Action.SIGN_DEVICE  # e.g. a new device after a lost store
    assert decide(mine, _server(mine, device_signed_by=mine)) is Action.NOTHING
    assert decide(None, _server(foreign)) is Action.FOREIGN  # seeds lost: never reset silently
    assert decide(mine, _server(foreign, device_signed_by=foreign)) is Action.FOREIGN


def test_the_servers_answer_to_a_key_query_is_read_for_the_bots_own_device() -> None:
    seeds = Seeds.generate(BOT)
    body = upload_body(seeds)
    response = {
        "master_keys": {BOT: body["master_key"]},
        "self_signing_keys": {BOT: body["self_signing_key"]},
        "user_signing_keys": {BOT: body["user_signing_key"]},
        "device_keys": {BOT: {"ABCDEFGHIJ": DEVICE, "OTHER": {}}},
    }

    server = ServerIdentity.from_query(response, BOT, "ABCDEFGHIJ")

    assert server.matches(seeds) and server.device_keys == DEVICE and not server.device_signed_by(seeds)
    assert ServerIdentity.from_query({}, BOT, "ABCDEFGHIJ") == ServerIdentity(None, None, None, None)
