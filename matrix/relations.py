"""How one event points at another: a reply, a reply in a thread, an edit, an answer.

The Matrix spec (client-server API, "Rich replies", "Threading", "Event replacements")
fixes these shapes; every message of the bot that relates to another is built here.
"""

from __future__ import annotations

from typing import Any

from homeward.matrix.content import notice_content


def reply_relation(in_reply_to: str, thread_root: str | None = None) -> dict[str, Any]:
    """`m.relates_to` of an answer: a reply, inside the thread when the question was in one.

    A reply within a thread is the thread relation with a real (not fallback) `m.in_reply_to`
    (Matrix spec, client-server API, "Threading: replies within threads").
    """
    reply = {"m.in_reply_to": {"event_id": in_reply_to}}
    if thread_root is None:
        return reply
    return {"rel_type": "m.thread", "event_id": thread_root, "is_falling_back": False, **reply}


def edit_of(original: str, new_content: dict[str, Any], fallback: str) -> dict[str, Any]:
    """An edit (`m.replace`) of the event `original`; clients without edits show `* fallback`.

    `original` is an event id, or the outbox's reference to a row not yet sent
    (`store.outbox.ref`), which the sender resolves. `new_content` from `notice_content`
    carries `m.mentions: {}`, so an edit notifies nobody again.
    """
    return {
        # "\\*" (escaped): the plain body starts "* " as the spec's fallback does, the HTML is a sentence, not a list.
        **notice_content("\\* " + fallback),
        "m.new_content": new_content,
        "m.relates_to": {"rel_type": "m.replace", "event_id": original},
    }


def answer_content(
    content: dict[str, Any],
    *,
    command: str,
    ok: bool,
    in_reply_to: str,
    thread_root: str | None,
    quotes: bool,
    extra: dict[str, Any],
) -> dict[str, Any]:
    """The event content of an answer to a command: a reply (in the command's thread) with the homeward.* keys.

    An answer that must not quote its command (`quotes` False) has no relation at all: in a
    thread it would point at a root the reader may not see either; it names the command's
    event as `homeward.answers` instead, for integrations and tests.
    """
    relation: dict[str, Any] = (
        {"m.relates_to": reply_relation(in_reply_to, thread_root)} if quotes else {"homeward.answers": in_reply_to}
    )
    return {
        **content,
        **relation,
        "homeward.command": command,
        "homeward.status": "ok" if ok else "error",
        **{f"homeward.{key}": value for key, value in extra.items()},
    }
