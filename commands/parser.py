"""The command grammar, in one place.

    command   := prefix name (whitespace token)*
    prefix    := "!" | "/"
    name      := letter (letter | digit | "-" | "_")*
    token     := word | quoted
    quoted    := '"' any text '"'   (also the typographic quotes phones insert)

A message is a command only when its first line starts with a prefix directly followed
by a name and then whitespace or the end: "!important: …" or "/usr/bin" are chat, not
commands. Every token keeps its offset in the text, so a handler can take "the rest of
the line" verbatim (free-text notes keep their spacing and line breaks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: Invisible characters that pasted text and some keyboards add (zero-width space, word
#: joiner, byte-order mark, left-to-right and right-to-left marks): between tokens they
#: separate like a space, so "!ack\u200bx" is the command it looks like, not chat.
INVISIBLE = "\u200b\u2060\ufeff\u200e\u200f"
_HEAD = re.compile(r"^[!/]([A-Za-z][A-Za-z0-9_-]*)(?=[\s" + INVISIBLE + r"]|$)")
_QUOTES = {'"': '"', "“": "”", "„": "“", "«": "»", "”": "”"}
MAX_COMMAND_LENGTH = 10_000


class ParseError(Exception):
    """The text looks like a command but cannot be split into arguments."""

    def __init__(self, key: str, name: str, **values: object) -> None:
        self.key = key
        self.name = name  # the command name, so the refusal can still say which command
        self.values = values
        super().__init__(key)


@dataclass(frozen=True)
class Token:
    text: str
    start: int  # offset of the token's first character in `CommandLine.text`


@dataclass(frozen=True)
class CommandLine:
    """A message split into a command name and its argument tokens."""

    prefix: str
    name: str
    text: str  # the whole command text, after reply fallbacks were removed
    tokens: list[Token] = field(default_factory=list)

    def rest(self, index: int) -> str:
        """The verbatim text from token `index` to the end."""
        if index >= len(self.tokens):
            return ""
        return self.text[self.tokens[index].start :].strip()


def strip_reply_fallback(body: str) -> str:
    """Remove the quoted '> <@user> …' lines that older clients put before a reply."""
    lines = body.split("\n")
    if not lines or not lines[0].startswith("> "):
        return body
    index = 0
    while index < len(lines) and lines[index].startswith(">"):
        index += 1
    return "\n".join(lines[index:]).lstrip("\n")


def parse(body: str, names: tuple[str, ...] = ()) -> CommandLine | None:
    """The command in `body`, or None when the message is ordinary chat.

    `names`: the names shown in the message's person pills (Element writes a pill's display
    name into the body): a name of several words is one token, as the pill is one thing.
    """
    text = strip_reply_fallback(body).lstrip().lstrip(INVISIBLE).lstrip()
    head = _HEAD.match(text)
    if head is None:
        return None
    name = head.group(1).lower()
    if len(text) > MAX_COMMAND_LENGTH:
        raise ParseError("error.too_long", name, limit=MAX_COMMAND_LENGTH)
    try:
        tokens = _tokenize(
            text, head.end(), sorted({n for n in names if any(map(_separates, n))}, key=len, reverse=True)
        )
    except ValueError as exc:
        raise ParseError("error.unbalanced_quote", name, quote=str(exc)) from None
    return CommandLine(prefix=text[0], name=name, text=text, tokens=tokens)


def _tokenize(text: str, position: int, names: list[str] | None = None) -> list[Token]:
    tokens: list[Token] = []
    length = len(text)
    while True:
        while position < length and _separates(text[position]):
            position += 1
        if position >= length:
            return tokens
        name = next(
            (
                n
                for n in names or ()
                if text.startswith(n, position) and (position + len(n) == length or _separates(text[position + len(n)]))
            ),
            None,
        )
        if name is not None:
            tokens.append(Token(name, position))
            position += len(name)
            continue
        opening = text[position]
        if opening in _QUOTES:
            closing = _QUOTES[opening]
            end = text.find(closing, position + 1)
            if end == -1:
                raise ValueError(opening)
            tokens.append(Token(text[position + 1 : end], position))
            position = end + 1
        else:
            start = position
            while position < length and not _separates(text[position]):
                position += 1
            tokens.append(Token(text[start:position], start))


def _separates(char: str) -> bool:
    return char.isspace() or char in INVISIBLE
