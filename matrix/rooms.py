"""What a care-team room looks like to the homeserver: its creation request and its state.

State events — name, topic, membership, power levels, server ACL — are not end-to-end
encrypted: every server in the room stores them in clear. So the name is the team's
pseudonym label alone and the topic a neutral line; the pathway's title (which says that
a child with complex needs is being discharged) stays inside encrypted messages.

Only the bot invites (`invite` above the coordinators' level): people join through
`!invite`, which records their lane. The server ACL admits exactly the servers the
region trusts (`allowed_servers`) and no IP literals.
"""

from __future__ import annotations

from typing import Any

ROOM_VERSION = "11"  # explicit; see the README for why not 12
BOT_LEVEL = 100
COORDINATOR_LEVEL = 50
MEMBER_LEVEL = 0


def power_levels(bot_id: str, coordinators: list[str]) -> dict[str, Any]:
    """The bot highest and the only one who invites; coordinators remove and redact; everyone else talks."""
    users = {bot_id: BOT_LEVEL}
    users.update({user: COORDINATOR_LEVEL for user in coordinators if user != bot_id})
    return {
        "users": users,
        "users_default": MEMBER_LEVEL,
        "events_default": MEMBER_LEVEL,
        "state_default": BOT_LEVEL,
        # Above the coordinators': an invite from Element would bring in someone with no lane.
        "invite": BOT_LEVEL,
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


def server_acl(servers: list[str], own_server: str) -> dict[str, Any]:
    """`m.room.server_acl`: exactly these servers (names without port), no IP literals.

    ACLs match server names without their port (Matrix spec), and so do the checks of
    events that arrive over federation. But when the bot's own homeserver is named with a
    port (`example.org:8448`), Synapse 1.163 validates a new ACL against that name *with*
    its port (synapse/events/validator.py: "Can't create an ACL event that denies the
    local server") — so that exact name is allowed too; it matches no other server.
    """
    allow = set(servers)
    if ":" in own_server and not own_server.startswith("["):
        allow.add(own_server)
    return {"allow": sorted(allow), "deny": [], "allow_ip_literals": False}


def room_name(label: str) -> str:
    """The room's name: the label alone, short in a phone's room list and saying nothing about health."""
    return label[:250]


def case_room_request(*, state: dict[str, dict[str, Any]], coordinator: str) -> dict[str, Any]:
    """The createRoom request of a care room (kwargs for the outbox's room creation), from its wanted state."""
    return {
        "name": state["m.room.name"]["name"],
        "topic": state["m.room.topic"]["topic"],
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
            {"type": "m.room.server_acl", "state_key": "", "content": state["m.room.server_acl"]},
        ],
        "power_level_content_override": state["m.room.power_levels"],
    }
