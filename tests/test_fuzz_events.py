"""Bad events of any shape: whatever a homeserver delivers, the bot's routing never crashes,
answers each command exactly once with `ok` or a clear `error`, and answers nothing else
(Hypothesis, no homeserver).

Each example builds a Matrix event as JSON (odd types, bodies of the wrong type, 100 kB
bodies, control characters, a `formatted_body` that disagrees with `body`, `m.relates_to`
of every kind, malformed senders, ids and timestamps, redactions), lets matrix-nio parse it
as it would in a sync (in clear, or as the plaintext of a decrypted event), and hands the
result to `HomewardBot.on_timeline_event` twice, over a real store.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar, cast
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import event as label
from hypothesis import strategies as st
from nio import Event, MegolmEvent, ReactionEvent, RoomMessageText
from nio.events.misc import validate_or_badevent
from nio.exceptions import EncryptionError
from nio.schemas import Schemas

import homeward.commands.handlers  # noqa: F401  (registers every command)
from homeward.bot import app
from homeward.bot.app import HomewardBot
from homeward.bot.sender import OutboxSender
from homeward.commands.parser import ParseError, parse
from homeward.commands.registry import registry
from homeward.store import outbox
from homeward.store.db import Store
from homeward.store.rows import one_row
from homeward.work import undecryptable
from tests.clock import FakeClock
from tests.stores import seed_case
from tests.unit import catalog, unit_services

BOT = "@bot:fuzz"
COORDINATOR = "@coord:fuzz"
CASE_ROOM, DIRECT_ROOM, UNKNOWN_ROOM = "!case:fuzz", "!dm:fuzz", "!elsewhere:fuzz"
NOTICE_EVENT = "$notice"  # the bot's posted notice in the care room; ✅ on it is an !ack
EVENT_ID = "$fuzzed"
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
# An answer must fit in one event once encrypted: Synapse refuses events over 64 KiB, and the
# Megolm ciphertext is the payload in unpadded base64 (4/3) plus the envelope.
MAX_ANSWER_BYTES = 45_000

NAMES = sorted({c.path[0] for c in registry.all()})
WORDS = [
    "plo",
    "behandlingsteam",
    "kommunen",
    "sykehus",
    "2026-12-14",
    "10:00",
    "g1",
    "meeting1",
    "md",
    "yes",
    "dokumentasjon",
    COORDINATOR,
    "@x:y",
    "\u202e",
    "\u200b",
    "\u200d",
    "\ufeff",
    "\x00",
    "\x1b[31m",
    "🎈",
    "&<b>",
]


# -- event shapes ----------------------------------------------------------------------------


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """One of the strategies, roughly in proportion to its weight, so that well-formed events stay common.

    Hypothesis favours the first and the last element of a sample: both are the first choice.
    """
    pool = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.sampled_from([*pool, choices[0][1]]).flatmap(lambda strategy: strategy)


odd_text = st.text(alphabet=st.characters(categories=["Cc", "Cf", "Zs", "Zl", "Zp", "Mn", "Lo", "So"]), max_size=40)
command_body = st.builds(
    lambda prefix, name, args: f"{prefix}{name} " + " ".join(args),
    st.sampled_from("!/"),
    st.sampled_from(NAMES),
    st.lists(st.one_of(st.sampled_from(WORDS), odd_text, st.text(max_size=20)), max_size=5),
)
big_body = st.builds(
    lambda head, unit: head + unit * (100_000 // len(unit) + 1),
    st.sampled_from(["!ping ", "!minutes meeting1 note ", "!plan goal ", "chat "]),
    st.sampled_from(["x", "å", "🎈", "\u200b", "\x07 "]),
)
near_limit = st.builds(
    lambda head, unit: (head + unit * 10_000)[:9_990],  # under the parser's limit: may be echoed back
    st.sampled_from(
        [f"!{name} " for name in NAMES]
        + ["!plan goal ", "!minutes meeting1 note ", "!case new sthf ", "!ack plo kommunen "]
    ),
    st.sampled_from(["&", "<b>", "x", "🎈", "_*", "@x:y "]),
)
text_body = weighted(
    (6, command_body),
    (2, st.text(max_size=200)),
    (1, odd_text.map(lambda s: "!ping" + s)),
    (1, big_body),
    (1, near_limit),
    (1, command_body.map(lambda b: f"> <{COORDINATOR}> earlier\n> quoted\n\n{b}")),  # a reply fallback
)
wrong_body = st.one_of(
    st.none(),
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
)
body = weighted((6, text_body), (1, wrong_body))

event_ref = weighted(
    (4, st.sampled_from(["$root", NOTICE_EVENT, "$other"])),
    (1, st.one_of(st.text(max_size=10), st.integers(), st.none())),
)
in_reply_to = weighted(
    (4, st.builds(lambda e: {"event_id": e}, event_ref)),
    (1, st.one_of(st.text(max_size=5), st.lists(st.integers(), max_size=1), st.none())),
)
reaction_key = weighted(
    (
        4,
        st.sampled_from(
            ["\u2705", "\u2705\ufe0f", "\U0001f44d", "\U0001f44d\U0001f3fd", "\u274c", "ok", "", "\u200b\u2705"]
        ),
    ),
    (1, st.one_of(st.text(max_size=4), st.integers(), st.none())),
)
relates_to = weighted(
    (3, st.builds(lambda r: {"m.in_reply_to": r}, in_reply_to)),
    (2, st.builds(lambda e: {"rel_type": "m.replace", "event_id": e}, event_ref)),
    (1, st.builds(lambda e, k: {"rel_type": "m.annotation", "event_id": e, "key": k}, event_ref, reaction_key)),
    (
        3,
        st.builds(
            lambda e, f, r: {
                "rel_type": "m.thread",
                "event_id": e,
                **({"is_falling_back": f} if f != "absent" else {}),
                **({"m.in_reply_to": r} if r is not None else {}),
            },
            event_ref,
            st.sampled_from([True, False, "absent", None, "yes"]),
            st.one_of(st.none(), in_reply_to),
        ),
    ),
    (1, st.builds(lambda e: {"rel_type": "m.reference", "event_id": e}, event_ref)),
    (
        1,
        st.builds(
            lambda t, e: {"rel_type": t, "event_id": e},
            st.one_of(st.text(max_size=12), st.integers(), st.none()),
            event_ref,
        ),
    ),
    (
        2,
        st.one_of(st.text(max_size=10), st.lists(st.text(max_size=3), max_size=2), st.integers(), st.none()),
    ),  # not an object at all
)
new_content = weighted(
    (3, st.builds(lambda b: {"msgtype": "m.text", "body": b}, body)),
    (1, st.one_of(st.text(max_size=10), st.none(), st.integers())),
)


@st.composite
def message_content(draw: st.DrawFn) -> dict[str, Any]:
    content: dict[str, Any] = {}
    msgtype = draw(
        st.sampled_from(["m.text"] * 6 + ["m.notice", "m.emote", "m.bogus", 5, None, "absent"] + ["m.text"] * 6)
    )
    if msgtype != "absent":
        content["msgtype"] = msgtype
    if draw(st.integers(0, 19)) != 7:
        content["body"] = draw(body)
    formatting = draw(st.sampled_from(["none"] * 2 + ["same"] * 2 + ["odd"] + ["other"] * 2 + ["none"]))
    if formatting == "same" and isinstance(content.get("body"), str):
        content.update(format="org.matrix.custom.html", formatted_body=f"<p>{content['body'][:200]}</p>")
    elif formatting == "other":  # HTML that says something else than the plain body
        content.update(format="org.matrix.custom.html", formatted_body=f"<p>{draw(command_body)}</p>")
    elif formatting == "odd":
        content.update(
            format=draw(st.one_of(st.text(max_size=5), st.integers())),
            formatted_body=draw(st.one_of(st.none(), st.integers(), st.text(max_size=20))),
        )
    if draw(st.booleans()):
        content["m.relates_to"] = draw(relates_to)
        if (
            isinstance(content["m.relates_to"], dict)
            and content["m.relates_to"].get("rel_type") == "m.replace"
            and draw(st.booleans())
        ):
            content["m.new_content"] = draw(new_content)
    elif draw(st.integers(0, 9)) == 4:
        content["m.new_content"] = draw(new_content)  # without a relation: meaningless, and not a command either
    return content


reaction_content = st.builds(
    lambda r: {"m.relates_to": r},
    weighted(
        (
            4,
            st.builds(
                lambda e, k: {"rel_type": "m.annotation", "event_id": e, "key": k},
                st.sampled_from([NOTICE_EVENT, NOTICE_EVENT, "$other"]),
                reaction_key,
            ),
        ),
        (1, relates_to),
    ),
)
megolm_fields = {
    "sender_key": st.just("k" * 43),
    "session_id": st.sampled_from(["s", ""]),
    "device_id": st.just("DEV"),
    "ciphertext": st.sampled_from(["AwgAEnA", "", "!!"]),
}
encrypted_content = st.builds(
    lambda algorithm, fields, relates: {
        "algorithm": algorithm,
        **fields,
        **({"m.relates_to": relates} if relates is not None else {}),
    },
    st.sampled_from(["m.megolm.v1.aes-sha2"] * 4 + ["m.olm.v1.curve25519-aes-sha2", "x"]),
    weighted((3, st.fixed_dictionaries(megolm_fields)), (1, st.fixed_dictionaries({}, optional=megolm_fields))),
    st.one_of(st.none(), relates_to),  # in clear text beside the ciphertext, as the spec has it
)
sticker_content = st.fixed_dictionaries(
    {"body": body},
    optional={"url": st.sampled_from(["mxc://fuzz/x", 5]), "info": st.just({}), "m.relates_to": relates_to},
)


@st.composite
def raw_event(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    """(the event as a homeserver would send it, how it reaches the bot: 'clear' or 'decrypted')."""
    kind = draw(
        st.sampled_from(
            ["m.room.message"] * 3
            + ["m.reaction"] * 2
            + ["m.room.encrypted", "m.sticker", "random"]
            + ["m.room.message"] * 3
        )
    )
    event_type = draw(st.text(max_size=20)) if kind == "random" else kind
    content = draw(
        {
            "m.room.message": message_content(),
            "m.reaction": reaction_content,
            "m.room.encrypted": encrypted_content,
            "m.sticker": sticker_content,
        }.get(kind, st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3))
    )
    event: dict[str, Any] = {
        "type": event_type,
        "content": content,
        "event_id": EVENT_ID,
        "origin_server_ts": 1_764_579_600_000,
    }
    event["sender"] = draw(st.sampled_from([COORDINATOR] * 2 + ["@stranger:fuzz", BOT] + [COORDINATOR] * 2))
    if draw(st.integers(0, 7)) == 3:  # a malformed envelope, as only a broken or hostile server would send
        event.update(
            draw(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "sender": st.sampled_from(["nobody", "@nocolon", 42, None, "absent"]),
                        "event_id": st.sampled_from([42, None, "", "absent"]),
                        "origin_server_ts": st.sampled_from(
                            [0, -1, 2**53 - 1, 2**63, 1.5, "yesterday", None, "absent"]
                        ),
                        "unsigned": st.sampled_from(
                            [{}, {"redacted_because": {"type": "m.room.redaction"}}, {"transaction_id": 5}, "odd"]
                        ),
                        "state_key": st.just(""),
                    },
                )
            )
        )
    event = {k: v for k, v in event.items() if v != "absent"}
    return event, draw(st.sampled_from(["clear", "decrypted", "clear"]))


def as_nio_delivers(raw: dict[str, Any], mode: str) -> Any:
    """The object nio's sync hands over for this event (see nio's SyncResponse and Olm.decrypt_megolm_event)."""
    if mode == "clear":
        return Event.parse_event(raw)
    # Decrypted: the envelope was a valid m.room.encrypted event (ids and timestamp checked);
    # the plaintext carries type and content, and nio copies a clear-text m.relates_to in.
    plaintext = {"type": raw["type"], "content": raw["content"], "room_id": CASE_ROOM}
    bad = validate_or_badevent(plaintext, Schemas.room_megolm_decrypted)
    if bad:
        return bad
    plaintext.update(
        event_id=EVENT_ID,
        sender=raw.get("sender")
        if isinstance(raw.get("sender"), str) and raw["sender"].startswith("@") and ":" in raw["sender"]
        else COORDINATOR,
        origin_server_ts=1_764_579_600_000,
    )
    event = Event.parse_decrypted_event(plaintext)
    event.decrypted = True
    return event


# -- the expectations, written from the Matrix spec and the README -----------------------------


def expected_command(event: Any) -> str | None:
    """The command name the bot must answer this event with, or None for no answer at all."""
    if not isinstance(event, RoomMessageText) or event.sender == BOT:
        return None
    content = event.source["content"]
    relates = content.get("m.relates_to")
    if content.get("msgtype") != "m.text" or "m.new_content" in content:
        return None  # notices are never commands; neither are edits
    if isinstance(relates, dict) and relates.get("rel_type") == "m.replace":
        return None
    text = content.get("body")
    try:
        line = parse(text) if isinstance(text, str) else None
    except ParseError as exc:
        return exc.name
    if line is None:
        return None
    found = registry.find(line.name)
    return found.path[0] if found else line.name


def expected_ack(event: Any, room: str) -> bool:
    return (
        isinstance(event, ReactionEvent)
        and room == CASE_ROOM
        and event.sender != BOT
        and event.reacts_to == NOTICE_EVENT
        and event.key.replace("\ufe0f", "").startswith(("\u2705", "\U0001f44d"))
    )


def thread_root(event: Any) -> str | None:
    content = event.source.get("content")
    relates = content.get("m.relates_to") if isinstance(content, dict) else None
    if (
        isinstance(relates, dict)
        and relates.get("rel_type") == "m.thread"
        and isinstance(relates.get("event_id"), str)
        and relates["event_id"]
    ):
        return relates["event_id"]
    return None


def expected_undecryptable(event: Any) -> bool:
    source = event.source if isinstance(getattr(event, "source", None), dict) else {}
    return (
        source.get("type") == "m.room.encrypted"
        and not isinstance(event, (RoomMessageText, ReactionEvent))
        and isinstance(source.get("event_id"), str)
        and isinstance(source.get("sender"), str)
        and source["sender"] != BOT
        and type(event).__name__ in ("MegolmEvent", "UnknownEncryptedEvent", "BadEvent", "UnknownBadEvent")
    )


# -- the bot, without a homeserver -----------------------------------------------------------


class NoKeys:
    """Stands in for the nio client: the bot's own id, no rooms synced, and no room keys ever arrive."""

    user_id = BOT
    rooms: ClassVar[dict[str, Any]] = {}  # no room state known: no room counts as encrypted

    def decrypt_event(self, event: MegolmEvent) -> Any:
        raise EncryptionError("no session")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with a direct chat and a care room whose coordinator has a lane and a posted notice."""
    path = tmp_path_factory.mktemp("fuzz-events") / "template.sqlite3"

    async def build() -> None:
        store = await Store.open(path)
        async with store.transaction() as db:
            case_id = await seed_case(
                db,
                case_room=CASE_ROOM,
                direct_room=DIRECT_ROOM,
                coordinator=COORDINATOR,
                label="Fuzz",
                language="nb",
                now=START,
            )
            notice = await outbox.enqueue(
                db, CASE_ROOM, "m.room.message", {"msgtype": "m.notice", "body": "PLO"}, START
            )
            await outbox.mark_sent(db, notice, NOTICE_EVENT, START)
            await db.execute(
                "INSERT INTO items (case_id, item_id, sent_at, sent_by, sent_outbox) VALUES (?, 'plo', ?, ?, ?)",
                (case_id, START.isoformat(), COORDINATOR, notice),
            )
        await store.close()

    asyncio.run(build())
    return path


async def _bot(path: Path, clock: FakeClock) -> HomewardBot:
    services = unit_services(clock, user_id=BOT, language="en")
    with patch.object(app, "Catalog", catalog):  # the catalog loaded once, not once per example
        bot = HomewardBot(services.config, clock)
    bot.store = await Store.open(path)
    bot.client = NoKeys()
    bot.sender = cast(OutboxSender, SimpleNamespace(wake=lambda: None))  # the events wake it, nothing more
    bot.services = services
    return bot


async def _answers(store: Store, after: int) -> list[dict[str, Any]]:
    async with (
        store.read() as db,
        db.execute("SELECT content FROM outbox WHERE id > ? AND kind = 'event'", (after,)) as cur,
    ):
        rows = [json.loads(r["content"]) for r in await cur.fetchall()]
    return [r for r in rows if "homeward.status" in r]


def shaped(
    content: dict[str, Any], event_type: str = "m.room.message", mode: str = "clear", **envelope: Any
) -> tuple[dict[str, Any], str]:
    """A hand-written event for the cases the issue names, so every run covers them."""
    return {
        "type": event_type,
        "content": content,
        "sender": COORDINATOR,
        "event_id": EVENT_ID,
        "origin_server_ts": 1_764_579_600_000,
        **envelope,
    }, mode


THREAD = {
    "rel_type": "m.thread",
    "event_id": "$root",
    "is_falling_back": True,
    "m.in_reply_to": {"event_id": "$root"},
}  # as Element sends it
MEGOLM = {
    "algorithm": "m.megolm.v1.aes-sha2",
    "sender_key": "k" * 43,
    "session_id": "s",
    "device_id": "DEV",
    "ciphertext": "AwgAEnA",
}


@example(shape=shaped({"msgtype": "m.text", "body": "!ping", "m.relates_to": THREAD}, mode="decrypted"), room=CASE_ROOM)
@example(shape=shaped({"msgtype": "m.text", "body": "!ping " + "x" * 100_000}), room=DIRECT_ROOM)
@example(
    shape=shaped(
        {"msgtype": "m.text", "body": "!ping", "format": "org.matrix.custom.html", "formatted_body": "<p>!help</p>"}
    ),
    room=CASE_ROOM,
)
@example(
    shape=shaped(
        {
            "msgtype": "m.text",
            "body": "* !ping",
            "m.new_content": {"msgtype": "m.text", "body": "!ping"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": "$root"},
        }
    ),
    room=CASE_ROOM,
)
@example(
    shape=shaped(
        {
            "msgtype": "m.text",
            "body": f"> <{BOT}> pong\n\n!status",
            "m.relates_to": {"m.in_reply_to": {"event_id": "$root"}},
        }
    ),
    room=CASE_ROOM,
)
@example(shape=shaped({"msgtype": "m.text", "body": "!ping", "m.relates_to": "$root"}), room=CASE_ROOM)
@example(shape=shaped({"msgtype": "m.notice", "body": "!ping"}), room=DIRECT_ROOM)
@example(
    shape=shaped(
        {"m.relates_to": {"rel_type": "m.annotation", "event_id": NOTICE_EVENT, "key": "\U0001f44d\U0001f3fd"}},
        "m.reaction",
    ),
    room=CASE_ROOM,
)
@example(
    shape=shaped(
        {"m.relates_to": {"rel_type": "m.annotation", "event_id": NOTICE_EVENT, "key": "\U0001f389"}}, "m.reaction"
    ),
    room=CASE_ROOM,
)
@example(shape=shaped({**MEGOLM, "m.relates_to": THREAD}, "m.room.encrypted"), room=CASE_ROOM)
@example(shape=shaped(MEGOLM, "m.room.encrypted", origin_server_ts="yesterday"), room=CASE_ROOM)
@example(shape=shaped(MEGOLM, "m.room.encrypted", origin_server_ts=2**53 - 1), room=CASE_ROOM)
@example(shape=shaped({"msgtype": "m.text", "body": "!ping"}, origin_server_ts="yesterday"), room=CASE_ROOM)
@example(shape=shaped({"msgtype": "m.text", "body": "!ping"}, unsigned={"redacted_because": {}}), room=CASE_ROOM)
@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(shape=raw_event(), room=st.sampled_from([CASE_ROOM, CASE_ROOM, DIRECT_ROOM, UNKNOWN_ROOM]))
def test_any_event_is_answered_once_if_it_is_a_command_and_never_otherwise(
    template: Path, tmp_path_factory, shape, room: str
) -> None:
    raw, mode = shape
    event = as_nio_delivers(raw, mode)

    async def run() -> None:
        clock = FakeClock(START)
        path = tmp_path_factory.mktemp("ev") / "s.sqlite3"
        shutil.copy(template, path)
        bot = await _bot(path, clock)
        store = bot.store
        assert store is not None
        try:
            async with store.read() as db, db.execute("SELECT max(id) FROM outbox") as cur:
                (baseline,) = await one_row(cur)
            await bot.on_timeline_event(room, event)
            await bot.on_timeline_event(room, event)  # delivered twice (a sync replayed after a crash)
            clock.advance(timedelta(seconds=undecryptable.GRACE_S + 1))
            await bot.retry_undecrypted()
            await bot.retry_undecrypted()
            answers = await _answers(store, baseline)
        finally:
            await store.close()

        command = expected_command(event)
        if command:
            kind = "command"
        elif expected_ack(event, room):
            kind = "ack"
        elif expected_undecryptable(event):
            kind = "undecryptable"
        else:
            kind = "nothing"
        label(f"{type(event).__name__}: {kind}")
        if command:
            label("command in a thread" if thread_root(event) else "command, no thread")
            label("command over 10,000 characters" if len(event.body) > 10_000 else "command up to 10,000 characters")
        if expected_undecryptable(event):
            assert [a.get("homeward.undecryptable") for a in answers] == [event.source["event_id"]], (raw, answers)
            assert answers[0]["homeward.status"] == "error"
            root = thread_root(event)  # the relation of an encrypted event is in clear text: a notice in the thread
            assert answers[0]["m.relates_to"] == (
                {"rel_type": "m.thread", "event_id": root, "is_falling_back": False} if root else {}
            ) | {"m.in_reply_to": {"event_id": event.source["event_id"]}}
        elif command is not None:
            assert len(answers) == 1, (raw, answers)
            answer = answers[0]
            assert answer["homeward.command"].split()[0] == command  # acted on `body`, never on `formatted_body`
            relates = answer["m.relates_to"]
            assert relates["m.in_reply_to"] == {"event_id": event.event_id}
            root = thread_root(event)
            if root:  # a command in a thread is answered in that thread
                assert relates == {
                    "rel_type": "m.thread",
                    "event_id": root,
                    "is_falling_back": False,
                    "m.in_reply_to": {"event_id": event.event_id},
                }
            else:
                assert "rel_type" not in relates
            # In a care room only a command that came encrypted runs; a clear-text one is refused, once.
            unencrypted = answer.get("homeward.reason") == "error.unencrypted"
            assert unencrypted == (room == CASE_ROOM and not getattr(event, "decrypted", False)), (raw, answer["body"])
        elif expected_ack(event, room):
            assert len(answers) == 1 and answers[0]["homeward.command"] == "ack", (raw, answers)
            assert answers[0]["m.relates_to"] == {"m.in_reply_to": {"event_id": NOTICE_EVENT}}
        else:
            assert answers == [], (raw, answers)
        for answer in answers:
            assert answer["homeward.status"] in ("ok", "error")
            assert answer["body"] and "Traceback" not in answer["body"]
            assert answer.get("homeward.reason") != "error.internal", (raw, answer["body"])
            assert len(json.dumps(answer, ensure_ascii=False).encode()) < MAX_ANSWER_BYTES, (
                raw["content"].get("body", "")[:80],
                len(answer["body"]),
            )

    asyncio.run(run())
