"""Matrix user ids and server names: the one pattern everything checks them with.

From the Matrix spec (appendices, "Identifier grammar"): a user id is `@localpart:server_name`.
Current servers mint localparts of `a-z 0-9 . _ = - / +`, but the spec tells clients to
accept the historical ones too (any printable ASCII but `:`), and a federated member may
have one: so those are accepted here, and what the bot writes about a user id is made
safe where it is written (never by refusing the person). A server name is a DNS name, an
IPv4 address or a bracketed IPv6 literal, with an optional port; the whole id is at most
255 characters.
"""

from __future__ import annotations

import re

SERVER_NAME = r"(?:\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9.\-]{1,255})(?::\d{1,5})?"
LOCALPART = r"[!-9;-~]+"  # printable ASCII except ':' (the historical user id grammar)
USER_ID = re.compile(rf"^@{LOCALPART}:{SERVER_NAME}$")
MAX_USER_ID = 255


def is_user_id(text: str) -> bool:
    """Whether `text` is a Matrix user id by the spec's grammar."""
    return len(text) <= MAX_USER_ID and USER_ID.match(text) is not None


def server_of(user_id: str) -> str:
    """The server name of a user id, with its port if it has one (`@a:example.org:8448` → `example.org:8448`)."""
    return user_id.split(":", 1)[1] if ":" in user_id else ""


def host_of(server_name: str) -> str:
    """A server name without its port: what server ACLs match (Matrix spec, `m.room.server_acl`)."""
    if server_name.startswith("["):
        return server_name.split("]", 1)[0] + "]"
    return server_name.rsplit(":", 1)[0] if ":" in server_name else server_name


_IPV4 = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")


def is_ip_literal(host: str) -> bool:
    """Whether a host is an IP address (an IPv4 dotted quad or a bracketed IPv6 literal), not a DNS name."""
    return host.startswith("[") or _IPV4.match(host) is not None
