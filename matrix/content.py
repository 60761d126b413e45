"""Turn the Markdown the bot writes into the two bodies of a Matrix message.

The plain `body` of an answer is the Markdown itself (readable as is in a client without
HTML), with each mention written as the user id alone. The plain `body` of an alert is what
a desktop or phone notification shows, so it is plain text: no Markdown at all (`to_text`).
`formatted_body` is the HTML that Element renders. Raw HTML in the source is escaped,
so text typed by users can never inject markup; how a value enters the Markdown is
decided in homeward.text.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

from homeward.text import code_spans

_md = MarkdownIt("commonmark", {"html": False, "breaks": True}).enable("table")


@functools.lru_cache(maxsize=32)
def to_html(markdown: str) -> str:
    """The HTML of the bot's Markdown. Remembered for the last few: a `!status` asked again, a checklist drawn
    twice in one unit of work, render the same text (a big checklist takes milliseconds to parse)."""
    return _md.render(markdown).strip()


#: What homeward.text.escape adds: a backslash before ASCII punctuation or at the end of
#: a line (a hard line break), and a character reference for a line's leading space or tab.
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])|\\(?=\r|\n)|&#32;|&#9;")
_UNESCAPED = {"&#32;": " ", "&#9;": "\t"}


def _unescape(match: re.Match[str]) -> str:
    return match.group(1) or _UNESCAPED.get(match.group(), "")


#: A person as homeward.text.mention writes them: `[escaped user id](https://matrix.to/#/…)`
#: (the link's destination is percent-encoded, so it holds no parenthesis or space).
_MENTION = re.compile(r"\[((?:\\.|[^\\\]])*)\]\(https://matrix\.to/#/[^()\s]*\)")


@functools.lru_cache(maxsize=32)
def to_plain(markdown: str) -> str:
    """The plain body of an answer: the Markdown without what homeward.text.escape added to it.

    A mention is the user id alone: a link's Markdown would be a screenful of URL. Code spans
    are left as they are: inside them a backslash is shown, not an escape. (An alert's body,
    which a notification shows, is `to_text`: no Markdown at all.)
    """

    def plain(piece: str) -> str:
        return _ESCAPED.sub(_unescape, _MENTION.sub(r"\1", piece))

    return "".join(piece if in_code else plain(piece) for piece, in_code in code_spans(markdown)).strip()


def to_text(markdown: str) -> str:
    """Plain text with no Markdown left: what a notification shows (an alert's `body`).

    Read from the same parse as the HTML (markdown-it), so it agrees with `formatted_body` on
    what is markup: a code span is its text without backticks, bold and emphasis lose their
    markers, a link is its text (a mention: the user id, which is all a notification has to
    name a person by), an escaped character is the character. Lines and paragraphs stay as
    written; a list item keeps its bullet or number, as plain text writes one.
    """
    lines = markdown.splitlines()
    return _blocks(SyntaxTreeNode(_md.parse(markdown)).children, lines).strip()


def _blocks(nodes: list[SyntaxTreeNode], lines: list[str]) -> str:
    """Block nodes one after the other, with a blank line between them where the source has one."""
    out = ""
    for node in nodes:
        text = _block(node, lines)
        if out:
            start = node.map[0] if node.map else 0
            blank = start > 0 and start <= len(lines) and not lines[start - 1].strip()
            out += "\n\n" if blank else "\n"
        out += text
    return out


def _block(node: SyntaxTreeNode, lines: list[str]) -> str:
    if node.type in ("bullet_list", "ordered_list"):
        items = []
        for item in node.children:
            marker = f"{item.info}{item.markup} " if node.type == "ordered_list" else f"{item.markup} "
            body = _blocks(item.children, lines).replace("\n", "\n" + " " * len(marker))
            items.append(marker + body)
        return "\n".join(items)
    if node.type in ("fence", "code_block"):
        return node.content.rstrip("\n")
    if node.type == "hr":
        return "———"
    if node.type == "inline":
        return _inline(node)
    if node.type == "tr":
        return " | ".join(_blocks(cell.children, lines) for cell in node.children)
    return _blocks(node.children, lines)  # paragraph, heading, blockquote, table, thead, tbody, th, td


def _inline(node: SyntaxTreeNode) -> str:
    if node.type in ("text", "code_inline"):
        return node.content
    if node.type in ("softbreak", "hardbreak"):
        return "\n"
    return "".join(_inline(child) for child in node.children)  # strong, em, s, link, image: their text


# Which kind a message is decides who is notified, and it is decided here, by which of the two
# functions below builds it. Matrix's default push rules put `.m.rule.suppress_notices` before
# the mention rules, and Element evaluates them on the decrypted event: an `m.notice` notifies
# nobody, whoever it mentions. So what must reach a person (a reminder, an escalation, a statutory
# clock at its limit, a sent notice, a consent request, a meeting invitation, a call to name a
# coordinator, someone removed from the room, a consent answerer who moved lane or left, a broken
# audit chain) is an `m.text` naming exactly the people who must act or be told in `m.mentions`
# (they get a highlight and a sound; the other members the room's
# ordinary unread count, as for any message), while answers to commands and checklist edits
# stay `m.notice` with no mentions.


def notice_content(markdown: str) -> dict[str, Any]:
    """A quiet message (an answer, the checklist and its edits): an m.notice that notifies nobody."""
    return {
        "msgtype": "m.notice",
        "body": to_plain(markdown),
        "format": "org.matrix.custom.html",
        "formatted_body": to_html(markdown),
        "m.mentions": {},
    }


def alert_content(markdown: str, mentions: Iterable[str]) -> dict[str, Any]:
    """A message that must reach people: an m.text that notifies (highlights) exactly `mentions`.

    The Markdown should name them with homeward.text.mention, so Element shows pills and the
    plain body (what a notification shows) names them too.
    """
    return {
        **notice_content(markdown),
        "msgtype": "m.text",
        "body": to_text(markdown),  # what the notification shows: plain text
        "m.mentions": {"user_ids": sorted(set(mentions))},
    }


def details_content(markdown: str) -> dict[str, Any]:
    """What follows a message that names people (a greeting, a consent request, a sent notice), naming nobody.

    A message that names someone is shown to them whole, red on yellow, in Element: on a phone it
    must be a few lines (`MENTION_MAX_CHARS`). The rest of what they need is in this one: an
    m.notice that notifies nobody, whose plain body is plain text like an alert's (`to_text`).
    """
    return {**notice_content(markdown), "body": to_text(markdown)}


#: A message that names someone fits about five lines of a 390 px phone screen: at most this much plain text
#: (with each person's user id, which is how the plain body names them).
MENTION_MAX_CHARS = 240
#: Element shows each person a message names as a pill with their display name: about this many characters.
MENTION_NAME_CHARS = 16


def shown_length(content: dict[str, Any]) -> int:
    """How long a message is as Element shows it (what `MENTION_MAX_CHARS` measures): its plain body, its
    runs of white space one space, each person it names a pill of `MENTION_NAME_CHARS`."""
    body = str(content.get("body", ""))
    for user in (content.get("m.mentions") or {}).get("user_ids", []):
        body = body.replace(user, "x" * MENTION_NAME_CHARS)
    return len(" ".join(body.split()))


#: A message's content, as JSON, stays under this: encrypted (base64, about 4/3) and wrapped
#: in its event it must fit Synapse's 64 KiB event limit, or the homeserver refuses it for good.
EVENT_CONTENT_MAX_BYTES = 40_000


def content_size(content: dict[str, Any]) -> int:
    return len(json.dumps(content))


def fit_content(content: dict[str, Any], shortened_note: str, limit: int = EVENT_CONTENT_MAX_BYTES) -> dict[str, Any]:
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
