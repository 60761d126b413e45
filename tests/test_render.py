"""Specification of message rendering (matrix/content.py): Markdown in, two safe bodies out."""

from __future__ import annotations

import html
import re
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

from homeward.matrix.content import (
    EVENT_CONTENT_MAX_BYTES,
    alert_content,
    content_size,
    fit_content,
    notice_content,
    to_html,
    to_plain,
)
from homeward.messages.catalog import LANGUAGES, Catalog
from homeward.text import Markdown, escape, fill, mention, mentions


def shown(formatted_body: str) -> str:
    """Roughly what a client displays for an HTML body: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]*>", "", formatted_body)).strip()


# --- raw HTML is never passed through -------------------------------------------------


@pytest.mark.parametrize(
    "markdown",
    [
        "<script>alert(1)</script>",
        "Hello <script>alert(1)</script> there",
        "**bold** <script src=https://evil.example/x.js></script>",
        "- item\n\n<script>alert(1)</script>\n",
        "<div>\n<script>alert(1)</script>\n</div>",
    ],
)
def test_raw_script_tags_are_escaped(markdown: str) -> None:
    rendered = to_html(markdown)
    assert "<script" not in rendered.lower()
    assert "&lt;script" in rendered


def test_raw_html_attributes_cannot_inject_handlers() -> None:
    rendered = to_html('<img src="x" onerror="alert(1)">')
    assert "<img" not in rendered
    assert "&lt;img" in rendered


def test_javascript_links_are_not_rendered_as_links() -> None:
    assert "href" not in to_html("[click](javascript:alert(1))")


@given(st.text(), st.text())
def test_a_script_tag_anywhere_never_renders_unescaped(before: str, after: str) -> None:
    assert "<script" not in to_html(before + "<script>alert(1)</script>" + after).lower()


def test_markdown_written_by_the_bot_is_rendered() -> None:
    assert to_html("**Homeward** `!ping`") == "<p><strong>Homeward</strong> <code>!ping</code></p>"


def test_single_line_breaks_become_br() -> None:
    assert to_html("one\ntwo") == "<p>one<br />\ntwo</p>"


# --- user text: escaped for Markdown, restored exactly in the plain body -------------


@given(st.text())
def test_escaped_user_text_round_trips_exactly_through_the_plain_body(text: str) -> None:
    # User text is always embedded in a message the bot writes; to_plain strips only the
    # message's own outer whitespace.
    assert to_plain("Note: " + escape(text) + " (end)") == "Note: " + text + " (end)"


def test_escaped_markdown_is_shown_literally_in_html() -> None:
    text = "*not bold* _x_ `code` [link](https://example.org) # 1. <b>"
    assert shown(to_html(escape(text))) == text


def test_escaped_html_entity_is_shown_literally_in_html() -> None:
    # A user who types "AT&amp;T" must see "AT&amp;T", not "AT&T".
    assert shown(to_html(escape("AT&amp;T"))) == "AT&amp;T"


def test_escaped_text_with_an_equals_line_does_not_become_a_heading() -> None:
    # "===" under a line is a setext heading in Markdown; escape must prevent it.
    rendered = to_html(escape("Dose\n==="))
    assert "<h1>" not in rendered, rendered
    assert shown(rendered).replace("\n", " ") == "Dose ==="


def test_markdown_marked_text_is_not_escaped() -> None:
    assert escape(Markdown("**bold**")) == "**bold**"


def test_escape_escapes_markdown_specials() -> None:
    assert escape("*a*") == r"\*a\*"
    assert escape("a\\b") == "a\\\\b"


# --- the notice -----------------------------------------------------------------------


def test_notice_content_is_an_m_notice_with_both_bodies_and_no_mentions() -> None:
    source = "**pong** for " + escape("Emma_N")
    assert notice_content(source) == {
        "msgtype": "m.notice",
        "body": "**pong** for Emma_N",
        "format": "org.matrix.custom.html",
        "formatted_body": "<p><strong>pong</strong> for Emma_N</p>",
        "m.mentions": {},
    }


def test_notice_content_escapes_user_html_in_the_formatted_body() -> None:
    content = notice_content("Note: " + escape("<script>alert(1)</script>"))
    assert "<script" not in str(content["formatted_body"])
    assert content["body"] == "Note: <script>alert(1)</script>"


def test_alert_content_is_an_m_text_that_mentions_exactly_the_people_given() -> None:
    source = mention("@kari:example.org") + ": **Inskrivningsmeddelande** is due now."
    content = alert_content(source, ["@kari:example.org", "@anna:example.org", "@kari:example.org"])

    assert content["msgtype"] == "m.text"  # an m.notice is never notified: .m.rule.suppress_notices comes first
    assert content["m.mentions"] == {"user_ids": ["@anna:example.org", "@kari:example.org"]}
    assert content["formatted_body"] == (
        '<p><a href="https://matrix.to/#/@kari:example.org">@kari:example.org</a>: '
        "<strong>Inskrivningsmeddelande</strong> is due now.</p>"
    )
    assert (
        content["body"] == "@kari:example.org: Inskrivningsmeddelande is due now."
    )  # what a notification shows: no stars


def test_an_alerts_plain_body_drops_the_bold_markers_but_keeps_the_stars_people_typed_and_code():
    content = alert_content("**" + escape("Dr **Ek**") + "** `!ack **x**`", [])

    assert content["body"] == "Dr **Ek** !ack **x**"  # a notification shows it as it reads: plain text
    assert "<strong>Dr **Ek**</strong>" in content["formatted_body"]


def test_an_alerts_plain_body_is_plain_text_as_a_notification_shows_it():
    source = (
        "⏰ " + mention("@kari_x:example.org") + ": `inskrivningsmeddelande` **Inskrivningsmeddelande** is due.\n"
        "_Late: planned for 09:00, while I was offline._ *one* [Ekorre](https://matrix.to/#/%21r:x)\n\n"
        "- " + escape("a_b *typed* `x`") + "\n2. two"
    )

    assert alert_content(source, [])["body"] == (
        "⏰ @kari_x:example.org: inskrivningsmeddelande Inskrivningsmeddelande is due.\n"
        "Late: planned for 09:00, while I was offline. one Ekorre\n\n"
        "- a_b *typed* `x`\n2. two"
    )
    # An answer's body stays the readable Markdown a client without HTML shows.
    assert notice_content("`x` _y_")["body"] == "`x` _y_"


def _markup(text: str) -> set[str]:
    """The Markdown markup a text would still carry if it were read as Markdown again."""
    found: set[str] = set()

    def walk(node: SyntaxTreeNode) -> None:
        if node.type in ("em", "strong", "code_inline", "s") or (node.type == "link" and node.markup != "autolink"):
            found.add(node.type)
        for child in node.children:
            walk(child)

    walk(SyntaxTreeNode(MarkdownIt("commonmark").parse(text)))
    return found


CATALOG = Catalog()
ALL_MESSAGES = [(language, key) for language in LANGUAGES for key in sorted(CATALOG.messages[language])]


@pytest.mark.parametrize(("language", "key"), ALL_MESSAGES)
def test_every_catalog_message_as_an_alert_body_has_no_markdown_left(language: str, key: str) -> None:
    # Every message, so every one an alert is made of (reminders, notices, consent requests,
    # greetings, worklists, invitations, the room's safeguards): a notification shows the body as is.
    template = CATALOG.messages[language][key]
    names = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    values = {
        name: mentions(["@kari:example.org", "@a_b:example.org"])
        if name in ("user", "users", "people")
        else "Zq" + name
        for name in names
    }
    body = str(alert_content(fill(template, values), [])["body"])

    assert "`" not in body and "](" not in body and "**" not in body, body
    assert not _markup(body), (body, _markup(body))
    if "users" in values or "user" in values or "people" in values:
        assert "@kari:example.org" in body and "matrix.to" not in body


def test_content_that_fits_one_event_is_left_alone():
    content = notice_content("**short**")

    assert fit_content(content, "shortened") is content


def test_an_answer_too_big_for_one_event_loses_its_machine_readable_copy_first():
    content = {
        **notice_content("- line\n" * 500),
        "homeward.case": {"items": ["x" * 100] * 500},
        "homeward.status": "ok",
    }

    fitted = fit_content(content, "shortened")

    assert content_size(fitted) <= EVENT_CONTENT_MAX_BYTES
    assert fitted["homeward.case"] == {"omitted": True} and fitted["homeward.status"] == "ok"
    assert fitted["formatted_body"] == content["formatted_body"]


def test_an_answer_still_too_big_is_cut_at_a_line_with_a_note_saying_where_the_rest_is():
    content = notice_content("\n".join(f"- item {n} " + "å" * 80 for n in range(2000)))

    fitted = fit_content(content, "Shortened: `!export case md` has everything.")

    assert content_size(fitted) <= EVENT_CONTENT_MAX_BYTES
    assert "formatted_body" not in fitted
    assert fitted["body"].startswith("- item 0 ") and fitted["body"].endswith("`!export case md` has everything.")
    assert "- item 1999" not in fitted["body"]
