"""What a handler gets (`Context`) and what it gives back (`Reply`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from homeward.commands.registry import Command
from homeward.matrix.content import notice_content
from homeward.matrix.relations import answer_content
from homeward.store.cases import NO_LANE, audit
from homeward.store.sql import Connection
from homeward.text import Markdown
from homeward.work.care_room import CareRoom
from homeward.work.services import Services


@dataclass(frozen=True)
class IncomingCommand:
    """A text message that starts like a command (or a reaction or reply run as one); nothing else of the event.

    The flags default to the safe side: a command nobody said was encrypted is not.
    """

    room_id: str
    event_id: str
    sender: str
    body: str  # the message's text; "" for a reaction
    timestamp_ms: int
    reply_to: str | None = None  # answer in reply to this event instead (a reaction's target)
    thread_root: str | None = None  # sent in this thread (`m.thread`): answered in it
    #: The event arrived end-to-end encrypted (Megolm) and was decrypted by the bot. In a care
    #: room an unencrypted command is never run: anyone with a member's access token but none
    #: of their device keys could send one.
    encrypted: bool = False
    #: The room is an encrypted room (its state has `m.room.encryption`): the answer goes encrypted.
    room_encrypted: bool = False
    #: A ✅ / 👍 reaction run as `ack`: it counts only for the reacting person's own lane,
    #: never on behalf of another (reactions are unencrypted, and easy to give by accident).
    reaction: bool = False
    #: The room holds nobody but the sender and the bot (joined or invited): a private chat.
    private: bool = False
    #: Whether the answer may quote (reply to) `reply_to`: not when someone on the team cannot read it.
    quotable: bool = True
    #: The event this message replies to (`m.in_reply_to`), e.g. a consent request answered with "ja".
    in_reply_to: str | None = None
    #: A reply to a consent request run as `consent yes|no <id>`: the same rules, ledger and audit row.
    by_reply: bool = False
    #: A vote in a consent request's poll run as `consent yes|no|revoke <id>` (commands.dispatch.handle_vote).
    by_poll: bool = False
    #: The people the message mentions (`m.mentions.user_ids`): what Element puts there for a pill.
    mentions: tuple[str, ...] = ()
    #: The person pills of the message: (the name shown, the user id) from its matrix.to links.
    pills: tuple[tuple[str, str], ...] = ()
    #: Why the device that encrypted it is not one the bot trusts (a `work.trust.Verdict` value:
    #: "unsigned", "identity_changed", "no_identity", "unknown"); such a command acts on nothing.
    #: None: a trusted device, or `device_trust = "any"`. Set by homeward.bot.devices, from the
    #: Megolm session the event was decrypted with.
    untrusted: str | None = None
    #: The device that encrypted it, when the bot knows it (trusted or not).
    device_id: str | None = None


@dataclass
class Reply:
    """An answer: Markdown text, ok or error, and extra `homeward.*` content keys."""

    markdown: str
    ok: bool = True
    extra: dict[str, Any] = field(default_factory=dict)
    #: False: the answer is no reply to the command (someone who cannot see the command reads it);
    #: it carries the command's event id as `homeward.answers` instead, for integrations and tests.
    quotes: bool = True

    def content(self, command: str, in_reply_to: str, thread_root: str | None = None) -> dict[str, Any]:
        """The answer's event content: an m.notice in reply to the command (`matrix.relations.answer_content`)."""
        return answer_content(
            notice_content(self.markdown),
            command=command,
            ok=self.ok,
            in_reply_to=in_reply_to,
            thread_root=thread_root,
            quotes=self.quotes,
            extra=self.extra,
        )


@dataclass
class Context:
    """One command being handled, inside the transaction that will record its effects."""

    event: IncomingCommand
    command: Command
    language: str
    db: Connection
    services: Services
    now: datetime
    room: CareRoom | None = None  # in a care room: its case, view and the sender's membership, loaded once
    room_kind: str = "other"  # 'case', 'direct' or 'other' (a room the bot does not know yet)
    args: dict[str, Any] = field(default_factory=dict)
    #: The prefix the command was typed with ("!" or "/"); "!" for a reaction or a reply read as a command.
    prefix: str = "!"

    @property
    def sender(self) -> str:
        return self.event.sender

    @property
    def room_id(self) -> str:
        return self.event.room_id

    @property
    def care(self) -> CareRoom:
        """The care room's unit of work; commands declared `where=CASE_ROOM` always have one."""
        assert self.room is not None, f"{self.command.name} ran outside a care room"
        return self.room

    def t(self, key: str, /, **values: Any) -> Markdown:
        """A catalog message in this room's language; each value goes in by where it sits (homeward.text.fill)."""
        return self.services.catalog.t(self.language, key, **values)

    async def audit(self, action: str, *, case_id: int | None = None, **details: Any) -> None:
        """One audit row caused by this command: in a care room through its unit of work, else for `case_id`."""
        if self.room is not None:
            await self.room.audit(action, **details)
            return
        await audit(
            self.db,
            room_id=self.room_id,
            actor=self.sender,
            action=action,
            now=self.now,
            case_id=case_id,
            actor_lane=NO_LANE,
            event_id=self.event.event_id,
            **details,
        )

    def word(self, shown: str) -> str:
        """An argument's placeholder in this room's language (`[arg]` of the catalogs), else as declared."""
        messages = self.services.catalog.messages
        key = "arg." + shown
        return messages.get(self.language, {}).get(key) or messages["en"].get(key) or shown

    def ok(self, markdown: str, **extra: Any) -> Reply:
        return Reply(markdown, ok=True, extra=extra)
