"""What counts as a command event: the one filter between Matrix events and the parser."""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote

from nio import RoomMessageText, UnknownEvent

from homeward.bot.client import RELATION_INSIDE
from homeward.care.votes import Selection
from homeward.commands.context import IncomingCommand


def command_from(
    room_id: str,
    event: RoomMessageText,
    own_user_id: str,
    room_encrypted: bool = False,
    untrusted: str | None = None,
    device_id: str | None = None,
) -> IncomingCommand | None:
    """The candidate command in a text message, or None for events that are never commands.

    Edits (`m.replace`) are never commands: matrix-nio hands them over as ordinary text
    starting with "* ", and running them would apply a command twice. The bot's own
    messages and notices (`m.notice`, other bots) are never commands either.

    Whether it came encrypted: matrix-nio hands a decrypted Megolm event over as the same
    `RoomMessageText` as a clear-text one, and marks it `decrypted = True`
    (`nio.crypto.olm_machine`, `_decrypt_megolm_no_error` → `decrypt_megolm_event`); a
    clear-text event keeps the class default, False. `room_encrypted`: nio's room state.

    `untrusted`, `device_id`: what homeward.bot.devices says of the device that encrypted it.
    Which message it replies to is read from the ciphertext alone (`relation_inside`).
    """
    if event.sender == own_user_id:
        return None
    content = event.source.get("content") if isinstance(event.source, dict) else None
    if not isinstance(content, dict) or content.get("msgtype") != "m.text":
        return None
    relates = content.get("m.relates_to")
    if isinstance(relates, dict) and relates.get("rel_type") == "m.replace":
        return None
    if "m.new_content" in content:
        return None
    body = content.get("body")
    if not isinstance(body, str) or not body:
        return None
    return IncomingCommand(
        room_id=room_id,
        event_id=event.event_id,
        sender=event.sender,
        body=body,
        timestamp_ms=int(event.server_timestamp or 0),
        thread_root=thread_root(content),
        encrypted=getattr(event, "decrypted", False) is True,
        room_encrypted=room_encrypted,
        in_reply_to=in_reply_to(relation_inside(event, content)),
        untrusted=untrusted,
        device_id=device_id,
        mentions=mentioned_users(content),
        pills=pills_of(content),
    )


def relation_inside(event: object, content: dict) -> dict:
    """The content with only the relation its sender encrypted: for a decrypted event, the
    `m.relates_to` of the ciphertext (homeward.bot.client keeps it; nio would fill in the clear
    wrapper's, which the sender's homeserver can rewrite); for any other, the content as it is."""
    if getattr(event, "decrypted", False) is not True or not hasattr(event, RELATION_INSIDE):
        return content
    inside = getattr(event, RELATION_INSIDE)
    plain = {key: value for key, value in content.items() if key != "m.relates_to"}
    return {**plain, "m.relates_to": inside} if isinstance(inside, dict) else plain


def in_reply_to(content: dict) -> str | None:
    """The event a message replies to (also inside a thread, where the reply is not a fallback)."""
    relates = content.get("m.relates_to")
    if not isinstance(relates, dict) or relates.get("is_falling_back") is True:
        return None
    reply = relates.get("m.in_reply_to")
    event_id = reply.get("event_id") if isinstance(reply, dict) else None
    return event_id if isinstance(event_id, str) and event_id else None


def mentioned_users(content: dict) -> tuple[str, ...]:
    """The user ids in `m.mentions` (Element fills it for every pill in the composer)."""
    mentions = content.get("m.mentions")
    users = mentions.get("user_ids") if isinstance(mentions, dict) else None
    if not isinstance(users, list):
        return ()
    return tuple(u for u in users if isinstance(u, str))[:50]


def thread_root(content: object) -> str | None:
    """The thread an event belongs to (`m.thread` relation), so its answer can go there too."""
    relates = content.get("m.relates_to") if isinstance(content, dict) else None
    if isinstance(relates, dict) and relates.get("rel_type") == "m.thread":
        root = relates.get("event_id")
        if isinstance(root, str) and root:
            return root
    return None


ACK_REACTIONS = ("\u2705", "\U0001f44d")  # ✅ and 👍 (any skin tone)


def is_ack_reaction(key: str) -> bool:
    """Whether a reaction key means "acknowledged"; variation selectors and skin tones ignored."""
    base = key.replace("\ufe0f", "")
    return any(base.startswith(mark) for mark in ACK_REACTIONS)


MATRIX_TO_USER = "https://matrix.to/#/@"


class _Pills(HTMLParser):
    """The matrix.to user links of an HTML body with their text: how Element writes a pill."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href") or ""
            self._href = href if href.startswith(MATRIX_TO_USER) else None
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            user = unquote(self._href.removeprefix("https://matrix.to/#/").split("?", 1)[0])
            label = " ".join("".join(self._text).split())
            if label:
                self.found.append((label, user))
            self._href = None


def pills_of(content: dict) -> tuple[tuple[str, str], ...]:
    """(shown name, user id) of each person pill in the message: Element puts the display name in the
    body and a matrix.to link in `formatted_body` (and the id in `m.mentions`)."""
    html = content.get("formatted_body")
    if not isinstance(html, str) or "matrix.to" not in html or len(html) > 20_000:
        return ()
    parser = _Pills()
    try:
        parser.feed(html)
        parser.close()
    except Exception:
        return ()
    return tuple(parser.found[:50])


#: A vote in a poll: Element Web sends the unstable MSC3381 type, clients of Matrix 1.7 the stable one.
POLL_RESPONSES = ("org.matrix.msc3381.poll.response", "m.poll.response")
#: The answer ids of the bot's consent polls (messages.consents.POLL_YES / POLL_NO).
POLL_SELECTIONS: tuple[Selection, ...] = ("yes", "no")


@dataclass(frozen=True)
class Vote:
    """A vote as it arrived: the command event it runs as, the poll it answers, and the answer chosen."""

    event: IncomingCommand
    poll: str
    selection: Selection


def vote_from(room_id: str, event: UnknownEvent, own_user_id: str) -> Vote | None:
    """The vote in a poll response, or None for anything that is not one of ours to read.

    A response names its poll with an `m.reference` relation and carries the chosen answer ids:
    `org.matrix.msc3381.poll.response.answers` (Element Web 1.11) or `m.selections` (Matrix 1.7).
    An empty or unknown choice (a "spoiled" vote, or a vote taken back) is no answer.
    """
    source = event.source if isinstance(event.source, dict) else {}
    if source.get("type") not in POLL_RESPONSES or event.sender == own_user_id:
        return None
    content = source.get("content")
    if not isinstance(content, dict):
        return None
    relates = relation_inside(event, content).get("m.relates_to")  # the poll its sender encrypted
    poll = relates.get("event_id") if isinstance(relates, dict) and relates.get("rel_type") == "m.reference" else None
    if not isinstance(poll, str) or not poll:
        return None
    chosen = _selections(content)
    if len(chosen) != 1 or chosen[0] not in POLL_SELECTIONS:
        return None
    selection: Selection = "yes" if chosen[0] == "yes" else "no"
    incoming = IncomingCommand(
        room_id=room_id,
        event_id=event.event_id,
        sender=event.sender,
        body="",
        timestamp_ms=int(event.server_timestamp or 0),
        encrypted=getattr(event, "decrypted", False) is True,
        room_encrypted=True,
    )
    return Vote(incoming, poll, selection)


def _selections(content: dict[str, Any]) -> list[Any]:
    unstable = content.get("org.matrix.msc3381.poll.response")
    if isinstance(unstable, dict) and isinstance(unstable.get("answers"), list):
        return list(unstable["answers"])
    stable = content.get("m.selections")
    return list(stable) if isinstance(stable, list) else []
