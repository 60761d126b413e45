"""The plan and the minutes of a case as HTML, PDF and Markdown.

One Jinja2 template per document and format, under ``templates/exports/``. The HTML
environment escapes every value (autoescaping on), so text typed by people — goals,
notes, titles, user ids — can never inject markup; the Markdown environment escapes
user text with the ``md`` filter. The PDF is WeasyPrint's print of the HTML: A4, page
numbers from CSS ``@page`` counters, the case label and the title on every page.
WeasyPrint prints with a URL fetcher that refuses every URL: the stylesheet is inlined,
and an export never loads anything, so no text that slipped into the markup can make
the bot fetch an address (a tracking pixel, a request to the internal network, a file).

Fixed wording is in ``templates/exports/words.toml`` (nb, sv, en); the plan's own
words (Huvudmål, Delmål, Insatser…) come with the document, from the pathway.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from homeward.exports.document import CarePlanDocument, MinutesDocument
from homeward.exports.wording import Words, words
from homeward.matrix.content import to_html
from homeward.messages.catalog import TEMPLATES_DIR
from homeward.text import escape

__all__ = ["TEMPLATES_DIR", "Words", "md_escape", "print_pdf", "render_html", "render_markdown", "render_pdf", "words"]

Document = CarePlanDocument | MinutesDocument


# --- escaping -----------------------------------------------------------------------
def md_escape(text: Any) -> str:
    """User text shown literally in Markdown, on one line (tables and lists stay intact): homeward.text.escape."""
    return escape(str(text), one_line=True)


def css_string(text: Any) -> Markup:
    """A quoted CSS string for generated content: every character but letters and
    digits is written as a CSS escape, so nothing can end the string or the style
    element."""
    out = []
    for char in str(text):
        if char.isalnum() and (char.isascii() or char.isalpha()):
            out.append(char)
        else:
            # The space ends the escape and is swallowed by it (CSS Syntax §4.3.7),
            # so a space in the text must be escaped too.
            out.append(f"\\{ord(char):06x} ")
    return Markup('"' + "".join(out) + '"')


# --- people -------------------------------------------------------------------------
#: Stands for a person while the words around them are formatted (never in a catalog or typed text).
_WHO = "\ue001"


def around_person(w: Words, key: str, who: Any, **values: Any) -> Markup:
    """The export words `key` with `{who}` a person's HTML (already escaped Markup) and every other value
    escaped: "2026-12-01 kl. 10:00 av <span class=person>Anna Koordinator</span>, Öppenvård …"."""
    before, _, after = w(key, who=_WHO, **values).partition(_WHO)
    return Markup.escape(before) + Markup(who) + Markup.escape(after)


# --- templates ----------------------------------------------------------------------
def _environment(*, html: bool) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        undefined=StrictUndefined,
        autoescape=html,  # HTML: every value is escaped; Markdown: the `md` filter does it
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = md_escape
    env.filters["css_string"] = css_string
    env.globals["around_person"] = around_person
    return env


_HTML = _environment(html=True)
_MARKDOWN = _environment(html=False)


def _template_name(doc: Document, extension: str) -> str:
    if isinstance(doc, CarePlanDocument):
        return f"exports/plan.{extension}.j2"
    if isinstance(doc, MinutesDocument):
        return f"exports/minutes.{extension}.j2"
    raise TypeError(f"cannot export a {type(doc).__name__}: give a CarePlanDocument or a MinutesDocument")


def _context(doc: Document, *, pictures: bool = False) -> dict[str, Any]:
    w = Words(doc.language, doc.zone)
    title = doc.plan_name if isinstance(doc, CarePlanDocument) else w("minutes")
    note = getattr(doc, "change_note", "") or w.date(doc.changed_at)
    footer = f"{title} · {w('version')} {doc.version} ({note})"
    values: dict[str, Any] = {"doc": doc, "w": w, "title": title, "footer": footer}
    if isinstance(doc, CarePlanDocument):
        phases: dict[str, list[Any]] = {}
        for item in doc.items:
            phases.setdefault(item.phase, []).append(item)
        start, end = doc.period()
        timeline_png = None
        if pictures and doc.timeline is not None and not doc.timeline.empty:
            from homeward.exports.timeline import draw_timeline  # matplotlib loads only for a case with a timeline

            timeline_png = base64.b64encode(draw_timeline(doc.timeline).png).decode("ascii")
        review_html = Markup(to_html(doc.review_markdown)) if doc.review_markdown else None
        values.update(
            review_html=review_html,
            timeline_png=timeline_png,
            timeline_empty=doc.timeline is not None and doc.timeline.empty,
            terms=doc.terms,
            coordinators=doc.coordinators(),
            phases=list(phases.items()),
            # Who signs: each member of the team by name and organisation (two blank blocks for a team of nobody).
            signers=[doc.person(p.user_id) for p in doc.participants],
            period_start=start,
            period_end=end,
            period_word=doc.term("period", w("period")),
        )
    return values


def render_html(doc: Document) -> str:
    """The document as one self-contained HTML page (print styles included)."""
    return _HTML.get_template(_template_name(doc, "html")).render(**_context(doc, pictures=True))


def render_markdown(doc: Document) -> str:
    """The document as Markdown, with the same content as the HTML and PDF."""
    text = _MARKDOWN.get_template(_template_name(doc, "md")).render(**_context(doc))
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def render_pdf(doc: Document) -> bytes:
    """The document as a PDF (A4), printed by WeasyPrint from the HTML."""
    return print_pdf(render_html(doc))


class URLRefused(ValueError):
    """An export asked for a URL; exports load none."""


#: The one kind of URL an export may name: a picture the export carries itself (the case's timeline).
INLINE_PICTURE = "data:image/png;base64,"


def _refuse(url: str, *_: Any, **__: Any) -> Any:
    raise URLRefused("exports load no URL")


def _refusing_fetcher() -> Any:
    """A WeasyPrint URL fetcher that refuses every URL (http, file, other data: alike) before any request is
    made; only a PNG carried inline in the document itself is read (decoded locally, nothing fetched)."""
    try:
        from weasyprint.urls import URLFetcher  # recent WeasyPrint (70 here) wants a URLFetcher
    except ImportError:
        from weasyprint import default_url_fetcher

        def fetch(url: str, *args: Any, **kwargs: Any) -> Any:
            return default_url_fetcher(url, *args, **kwargs) if url.startswith(INLINE_PICTURE) else _refuse(url)

        return fetch  # older WeasyPrint takes any callable

    class RefuseAll(URLFetcher):
        def fetch(self, url: str, headers: Any = None) -> Any:
            if url.startswith(INLINE_PICTURE):
                return super().fetch(url, headers)
            return _refuse(url)

    return RefuseAll()


def print_pdf(html: str) -> bytes:
    """Print self-contained HTML as a PDF; any URL in it (image, stylesheet, font) is refused, not loaded."""
    from weasyprint import HTML  # imported here: loading Pango takes a moment

    # No base_url: nothing is relative to anything; the stylesheet is in the page.
    pdf = HTML(string=html, url_fetcher=_refusing_fetcher()).write_pdf()
    assert pdf is not None  # write_pdf returns bytes when no target is given
    return pdf
