"""Turn the Markdown the bot writes into the two bodies of a Matrix message.

The plain `body` is the Markdown itself (readable as is, and what notifications show);
`formatted_body` is the HTML that Element renders. Raw HTML in the source is escaped,
so text typed by users can never inject markup.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt

_md = MarkdownIt("commonmark", {"html": False, "breaks": True}).enable("table")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~&=])")


def to_html(markdown: str) -> str:
    return _md.render(markdown).strip()


class Markdown(str):
    """Text that is already Markdown: `Context.t` passes it through unescaped."""


def md_escape(text: str) -> str:
    """Escape user-supplied text so Markdown shows it literally."""
    if isinstance(text, Markdown):
        return text
    return _MD_SPECIAL.sub(r"\\\1", text)


def matrix_to(user_id: str) -> str:
    """A mention link as Element writes it."""
    return f"https://matrix.to/#/{user_id}"


_ESCAPED = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|<>~&=])")


def to_plain(markdown: str) -> str:
    """The plain body: the Markdown without the escapes added by `md_escape`."""
    return _ESCAPED.sub(r"\1", markdown).strip()


def notice_content(markdown: str) -> dict[str, object]:
    """An m.notice with both bodies; notices never notify anyone unless mentions are added."""
    return {
        "msgtype": "m.notice",
        "body": to_plain(markdown),
        "format": "org.matrix.custom.html",
        "formatted_body": to_html(markdown),
        "m.mentions": {},
    }
