"""Turn the Markdown the bot writes into the two bodies of a Matrix message.

The plain `body` is the Markdown itself (readable as is, and what notifications show);
`formatted_body` is the HTML that Element renders. Raw HTML in the source is escaped,
so text typed by users can never inject markup; how a value enters the Markdown is
decided in homeward.text.
"""

from __future__ import annotations

import json
import re

from markdown_it import MarkdownIt

from homeward.text import code_spans

_md = MarkdownIt("commonmark", {"html": False, "breaks": True}).enable("table")


def to_html(markdown: str) -> str:
    return _md.render(markdown).strip()


#: What homeward.text.escape adds: a backslash before ASCII punctuation or at the end of
#: a line (a hard line break), and a character reference for a line's leading space or tab.
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])|\\(?=\r|\n)|&#32;|&#9;")
_UNESCAPED = {"&#32;": " ", "&#9;": "\t"}


def _unescape(match: re.Match[str]) -> str:
    return match.group(1) or _UNESCAPED.get(match.group(), "")


def to_plain(markdown: str) -> str:
    """The plain body: the Markdown without what homeward.text.escape added to it.

    Code spans are left as they are: inside them a backslash is shown, not an escape.
    """
    return "".join(piece if in_code else _ESCAPED.sub(_unescape, piece) for piece, in_code in code_spans(markdown)).strip()


def notice_content(markdown: str) -> dict[str, object]:
    """An m.notice with both bodies; notices never notify anyone unless mentions are added."""
    return {
        "msgtype": "m.notice",
        "body": to_plain(markdown),
        "format": "org.matrix.custom.html",
        "formatted_body": to_html(markdown),
        "m.mentions": {},
    }


def addressed_content(markdown: str, mentions: list[str]) -> dict[str, object]:
    """A message addressed to people, who are named in `m.mentions` (and, as pills, in the Markdown).

    The one place for messages that must reach a person: the greeting of a newcomer and a sent
    notice. LEAD, AT MERGE: issue 13's `alert_content` (an m.text, so that it notifies) replaces
    this body; today it is an m.notice like the bot's other messages.
    """
    return {**notice_content(markdown), "m.mentions": {"user_ids": sorted(set(mentions))}}


#: A message's content, as JSON, stays under this: encrypted (base64, about 4/3) and wrapped
#: in its event it must fit Synapse's 64 KiB event limit, or the homeserver refuses it for good.
EVENT_CONTENT_MAX_BYTES = 40_000


def content_size(content: dict[str, object]) -> int:
    return len(json.dumps(content))


def fit_content(content: dict[str, object], shortened_note: str, limit: int = EVENT_CONTENT_MAX_BYTES) -> dict[str, object]:
    """The content, made small enough for one event if it is not: never an answer refused.

    In order, until it fits: leave out the big machine-readable `homeward.*` values (their
    key stays, as `{"omitted": true}`), then the HTML body, then cut the plain body at a
    line and add `shortened_note` (which says where to find all of it).
    """
    if content_size(content) <= limit:
        return content
    fitted = dict(content)
    for key in sorted((k for k in fitted if k.startswith("homeward.")), key=lambda k: -len(json.dumps(fitted[k]))):
        if len(json.dumps(fitted[key])) > 1_000:
            fitted[key] = {"omitted": True}
            if content_size(fitted) <= limit:
                return fitted
    fitted.pop("formatted_body", None)
    fitted.pop("format", None)
    body = str(fitted.get("body", ""))
    while content_size(fitted) > limit and body:
        body = body[: max(len(body) * 3 // 4, 0)]
        body = body[: body.rfind("\n")] if "\n" in body else body
        fitted["body"] = body.rstrip() + "\n\n" + shortened_note
    return fitted
