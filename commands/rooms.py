"""What a care-team room looks like to the homeserver: its creation request and power levels.

State events — name, topic, membership, power levels — are not end-to-end encrypted, so
nothing here says anything about the child beyond the team's pseudonym label.
"""

from __future__ import annotations

from typing import Any

ROOM_VERSION = "11"  # explicit; see the README for why not 12
BOT_LEVEL = 100
COORDINATOR_LEVEL = 50
MEMBER_LEVEL = 0


def power_levels(bot_id: str, coordinators: list[str]) -> dict[str, Any]:
    """The bot highest; coordinators invite and remove; everyone else talks, nothing more."""
    users = {bot_id: BOT_LEVEL}
    users.update({user: COORDINATOR_LEVEL for user in coordinators if user != bot_id})
    return {
        "users": users,
        "users_default": MEMBER_LEVEL,
        "events_default": MEMBER_LEVEL,
        "state_default": BOT_LEVEL,
        "invite": COORDINATOR_LEVEL,
        "kick": COORDINATOR_LEVEL,
        "ban": BOT_LEVEL,
        "redact": COORDINATOR_LEVEL,
        "events": {
            "m.reaction": MEMBER_LEVEL,
            "m.room.message": MEMBER_LEVEL,
            "m.room.encrypted": MEMBER_LEVEL,
        },
        "notifications": {"room": COORDINATOR_LEVEL},
    }


def case_room_request(*, name: str, topic: str, bot_id: str, coordinator: str) -> dict[str, Any]:
    """The createRoom request of a care room (kwargs for the outbox's room creation)."""
    return {
        "name": name,
        "topic": topic,
        "room_version": ROOM_VERSION,
        # private_chat, never trusted_private_chat: on room version 12 the latter makes
        # every invitee a permanent creator that nobody can demote.
        "preset": "private_chat",
        "invite": [coordinator],
        "initial_state": [
            {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}},
            {"type": "m.room.history_visibility", "state_key": "", "content": {"history_visibility": "invited"}},
            {"type": "m.room.guest_access", "state_key": "", "content": {"guest_access": "forbidden"}},
            {"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "invite"}},
        ],
        "power_level_content_override": power_levels(bot_id, [coordinator]),
    }
