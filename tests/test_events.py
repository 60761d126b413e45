"""What the bot takes from a text event (bot/events.py).

Whether it came encrypted is nio's mark, never the content's.
"""

from __future__ import annotations

from typing import Any

from nio import Event

from homeward.bot.events import command_from

BOT = "@bot:example.org"
RAW: dict[str, Any] = {
    "type": "m.room.message",
    "sender": "@anna:example.org",
    "event_id": "$e",
    "origin_server_ts": 1,
    "content": {"msgtype": "m.text", "body": "!status"},
}


def test_a_clear_text_command_is_marked_unencrypted_even_in_an_encrypted_room() -> None:
    incoming = command_from("!room:example.org", Event.parse_event(RAW), BOT, room_encrypted=True)
    assert incoming is not None and incoming.encrypted is False and incoming.room_encrypted is True


def test_a_command_nio_decrypted_is_marked_encrypted() -> None:
    event = Event.parse_decrypted_event({**RAW, "room_id": "!room:example.org"})
    event.decrypted = True  # what nio's Olm.decrypt_megolm_event sets
    incoming = command_from("!room:example.org", event, BOT, room_encrypted=True)
    assert incoming is not None and incoming.encrypted is True


def test_content_cannot_claim_to_be_encrypted() -> None:
    raw = {**RAW, "content": {**RAW["content"], "decrypted": True, "algorithm": "m.megolm.v1.aes-sha2"}}
    incoming = command_from("!room:example.org", Event.parse_event(raw), BOT, room_encrypted=True)
    assert incoming is not None and incoming.encrypted is False
