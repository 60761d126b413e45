"""How a value enters the Markdown the bot writes: decided here, and only here.

By where it goes:

- inside a code span nothing is escaped, so the HTML shows the bytes a person must type
  (`code`); a backslash there would be shown, and the copied command would fail;
- free text (typed by users, or written in a pathway file) is escaped, so Markdown shows
  it literally and it can never add a link, markup or structure (`escape`);
- a person is a `mention`: a matrix.to link, which Element renders as a pill;
- text that is already Markdown (`Markdown`: a mention, a list of code spans, another
  catalog message) goes in as it is.

`fill` formats a catalog message by these rules, reading each placeholder's place from
the template itself: the translator decides where an id goes, the code follows.
The renderer is markdown-it in CommonMark mode (homeward.matrix.content); every escape here is
a CommonMark backslash escape, which the HTML never shows.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

__all__ = [
    "Markdown",
    "Term",
    "code",
    "code_spans",
    "escape",
    "fill",
    "matrix_to",
    "mention",
    "mentions",
    "room_link",
]


class Markdown(str):
    """Text that is already Markdown: `escape` and `fill` insert it as is."""


class Term(str):
    """A word of the catalogs, named by its key (`Term("consent.state_pending")`), for a layer that
    cannot say it itself: care logic puts one in a refusal, and the catalog puts in the word of the
    reader's language when it fills the message (`messages.catalog.Catalog.t`). Never shown as is."""


#: Characters that start or end inline Markdown anywhere in a line: escapes, code spans,
#: emphasis, links, autolinks, table cells, fences, heading marks and entities (`&amp;`).
_INLINE = re.compile(r"([\\`*_\[\]<>|~#&])")
#: At the start of a line "- ", "+ ", "1. " or "1) " would begin a list, and "---" or "="
#: would be a rule or underline the line before into a heading.
_LINE_START = re.compile(r"^(?:([-+=])(?=[-=\s]|$)|(\d{1,9})([.)])(?=\s|$))")
_LINE_BREAK = re.compile(r"(\r\n|\r|\n)")  # what markdown-it reads as the end of a line
#: A line's leading space or tab, written as a character reference: indented, a line can
#: begin a code block (which would show the backslashes) or look blank.
_LEADING = {" ": "&#32;", "\t": "&#9;"}


def _line_start(match: re.Match[str]) -> str:
    mark, number, dot = match.groups()
    return f"\\{mark}" if mark else f"{number}\\{dot}"


def escape(text: object, *, one_line: bool = False) -> str:
    """Free text as Markdown that shows exactly that text (a `Markdown` value is returned as is).

    What is added the HTML never shows, and homeward.matrix.content.to_plain removes it again, so
    the plain body shows the text byte for byte: backslash escapes, a character reference
    for the space or tab that starts a line, and a backslash (a hard line break) on an
    empty line, which would otherwise end the paragraph the text was put in. `one_line`
    joins all whitespace into single spaces, for the table cells and list items of the
    exports.
    """
    if isinstance(text, Markdown):
        return text
    text = str(text)
    if one_line:
        text = " ".join(text.split())
    parts = _LINE_BREAK.split(text)  # lines at the even places, their line breaks between
    last = len(parts) - 1
    for index in range(0, len(parts), 2):
        line = _LINE_START.sub(_line_start, _INLINE.sub(r"\\\1", parts[index]), count=1)
        if line[:1] in _LEADING:
            line = _LEADING[line[0]] + line[1:]
        elif not line and 0 < index < last:
            line = "\\"
        parts[index] = line
    return "".join(parts)


_BACKTICKS = re.compile(r"`+")


def code(text: str) -> Markdown:
    """A code span whose content is `text`, byte for byte (CommonMark §6.1).

    The fence is one backtick longer than the longest run inside, and a space pads the
    content when it starts or ends with a backtick (or with a space on both sides): the
    renderer removes exactly that padding. A line break inside would be shown as a space,
    so it is written as one.
    """
    text = re.sub(r"\r\n|\r|\n", " ", str(text))
    if not text:
        return Markdown("")
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(text)), default=0) + 1)
    padded = (
        text.startswith("`")
        or text.endswith("`")
        or (text.startswith(" ") and text.endswith(" ") and bool(text.strip(" ")))
    )
    pad = " " if padded else ""
    return Markdown(f"{fence}{pad}{text}{pad}{fence}")


def code_block(text: str, language: str = "") -> Markdown:
    """A fenced code block whose content is `text`, line by line (CommonMark §4.5): the fence is
    longer than any run of backticks inside, so nothing in `text` can end it."""
    body = re.sub(r"\r\n|\r", "\n", str(text)).rstrip("\n")
    fence = "`" * max(3, max((len(run) for run in _BACKTICKS.findall(body)), default=0) + 1)
    return Markdown(f"{fence}{language}\n{body}\n{fence}")


#: What may stay unencoded in the matrix.to fragment: the sigils and the characters of a
#: user id that Element writes as they are. Everything else (brackets, parentheses, spaces,
#: `%`, `/`, `?`, `#`, backslashes) is percent-encoded, so the id cannot end the link
#: destination early or carry a second link; Element decodes the fragment before reading it.
_FRAGMENT_SAFE = "@:!$&'*+,;="


def matrix_to(user_id: str) -> str:
    """The permalink of a user, as Element writes it: https://matrix.to/#/@user:server."""
    return "https://matrix.to/#/" + quote(user_id, safe=_FRAGMENT_SAFE)


def mention(user_id: str) -> Markdown:
    """A mention of a person: a link to their matrix.to permalink, which Element shows as a pill."""
    return Markdown(f"[{escape(user_id, one_line=True)}]({matrix_to(user_id)})")


def room_link(room_id: str, text: str, event_id: str | None = None, via: str | None = None) -> Markdown:
    """A link into a room (a matrix.to permalink, which Element opens), showing `text` as typed.

    With `event_id` the link opens the room at that event. Element turns a link to a room into
    a pill showing the room's name (or its id, for a room one is not in), whatever the link's
    text; a link to an event with its own text stays that text. `via`: a server that knows the room.
    """
    target = quote(room_id, safe=_FRAGMENT_SAFE)
    if event_id:
        target += "/" + quote(event_id, safe=_FRAGMENT_SAFE)
    if via:
        target += "?via=" + quote(via, safe="")
    return Markdown(f"[{escape(text, one_line=True)}](https://matrix.to/#/{target})")


def mentions(user_ids: Iterable[str], empty: str = "—") -> Markdown:
    """Several people, comma-separated; `empty` when there is nobody."""
    return Markdown(", ".join(mention(user) for user in user_ids) or escape(empty))


# --- catalog messages -------------------------------------------------------------------
_FORMATTER = string.Formatter()
_FIELD = "\ue000"  # stands for one placeholder while the template's code spans are found
_ESCAPABLE = frozenset(string.punctuation)


def fill(template: str, values: Mapping[str, Any]) -> Markdown:
    """The catalog message `template` with each `{placeholder}` put in by where it sits.

    Inside one of the template's code spans the value goes in raw, as its `str` (the span
    is re-fenced if the value holds backticks, so it still shows exactly the value);
    outside, it is escaped as free text unless it is `Markdown`. Format specs and
    conversions work as in `str.format`.
    """
    if _FIELD in template:
        raise ValueError("a catalog message must not contain U+E000")
    skeleton: list[str] = []  # the template, each placeholder written as _FIELD
    fields: list[Any] = []
    for literal, field, spec, conversion in _FORMATTER.parse(template):
        skeleton.append(literal)
        if field is None:
            continue
        value, _ = _FORMATTER.get_field(field, (), values)
        if conversion or spec:
            value = _FORMATTER.format_field(_FORMATTER.convert_field(value, conversion), spec or "")
        fields.append(value)
        skeleton.append(_FIELD)
    out: list[str] = []
    numbered = iter(fields)
    for piece, in_code in code_spans("".join(skeleton)):
        if not in_code:
            out.append(
                "".join(escape(next(numbered)) if part == _FIELD else part for part in re.split(f"({_FIELD})", piece))
            )
        elif _FIELD not in piece:
            out.append(piece)
        else:
            out.append(code(_span_content(piece, numbered)))
    return Markdown("".join(out))


def _span_content(span: str, values: Iterable[Any]) -> str:
    """What a code span of the template shows, with its placeholders' values put in raw."""
    fence = len(span) - len(span.lstrip("`"))
    inner = span[fence:-fence]
    if inner.startswith(" ") and inner.endswith(" ") and inner.strip(" "):
        inner = inner[1:-1]  # the padding the renderer strips (CommonMark §6.1)
    values = iter(values)
    return "".join(str(next(values)) if part == _FIELD else part for part in re.split(f"({_FIELD})", inner))


def code_spans(markdown: str) -> list[tuple[str, bool]]:
    """`markdown` cut into pieces outside and inside code spans (a span keeps its fences).

    `fill` and homeward.matrix.content.to_plain both cut with this, so they agree on what is code.
    The CommonMark rule: a run of backticks opens a span closed by the next run of the
    same length; a backslash-escaped backtick opens nothing; an unclosed run is text.
    """
    pieces: list[tuple[str, bool]] = []
    start = index = 0
    while index < len(markdown):
        char = markdown[index]
        if char == "\\" and index + 1 < len(markdown) and markdown[index + 1] in _ESCAPABLE:
            index += 2
            continue
        if char != "`":
            index += 1
            continue
        run = _BACKTICKS.match(markdown, index)
        assert run is not None
        length = len(run.group())
        closing = next((m for m in _BACKTICKS.finditer(markdown, run.end()) if len(m.group()) == length), None)
        if closing is None:
            index = run.end()
            continue
        if start < index:
            pieces.append((markdown[start:index], False))
        pieces.append((markdown[index : closing.end()], True))
        start = index = closing.end()
    if start < len(markdown):
        pieces.append((markdown[start:], False))
    return pieces
