"""How a value enters the bot's Markdown (homeward/text.py), checked where users see it: the HTML.

Every catalog message of every language, the message templates and the export templates
are rendered with hostile values, and the HTML Element would show is read back:
- an id inside a code span is byte-equal to what the user must type (no backslashes);
- free text shows literally: no visible backslash escape, and no link, markup or
  structure comes from it (the HTML has exactly the tags it has with harmless values);
- a person is one `<a href="https://matrix.to/#/@…">` link whose address decodes to the id.
"""

from __future__ import annotations

import dataclasses
import html
import re
import string
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from types import SimpleNamespace
from typing import Any, cast
from urllib.parse import unquote

import aiosqlite
import pytest
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from homeward.care.case import Ack, CaseView, ExtraTask, ItemRecord, Membership
from homeward.care.pathway import Item
from homeward.commands.context import Context, IncomingCommand
from homeward.commands.registry import Command
from homeward.exports.render import Document, render_html, render_markdown
from homeward.matrix.content import notice_content, to_html, to_plain
from homeward.messages.catalog import LANGUAGES, Catalog, render_template
from homeward.messages.checklist import checklist_markdown, item_line
from homeward.text import Markdown, code, escape, fill, matrix_to, mention, mentions
from homeward.work.services import Services
from tests.test_exports import swedish_minutes, swedish_plan
from tests.unit import shipped_pathways

CATALOG = Catalog()
MATRIX_TO = "https://matrix.to/#/"

#: Free text as users type it: Markdown and HTML specials, a link, backticks, `-`, `_`, `.`, backslashes.
FREE = (
    r"*x* _y_ [link](http://evil.example) <b>bold</b> <script>alert(1)</script> `tick` ``two`` "
    r"a-b a_b a.b 1. - + # > | ~~s~~ &amp; AT&T back\slash !ack x-y end\ "
)
FREE = FREE.strip()
#: Over several lines, each of which would start a block of its own, and a blank line.
FREE_LINES = "    indented first\n- not a list\n\n    not code\n1) nor this\n===\n> nor a quote\n# nor a heading"
#: Ids and words people must type, placed in code spans; user-typed ones can hold anything.
IDS = ["samtykke-dokumentasjon", "a_b.c-d", "!ack", "*x*", "[l](http://evil.example)", "<b>", "a`b", r"a\-b"]
#: Federated user ids may hold Markdown and link characters.
ODD_USERS = [
    "@a_b-c.d:example.org",
    "@x)(y]:evil.example",
    "@under_score:server.org:8448",
    "@[l](http://evil.example):x.org",
]
#: Messages whose `{user}`/`{users}` is text, not a person: what was typed instead of a
#: user id, and care logic's plain list (care/minutes.py).
NOT_PEOPLE = {"team.bad_user", "plan.bad_user", "minutes.bad_user", "minutes.already_present"}
PEOPLE = {"user", "users", "people"}

MESSAGES = [(language, key) for language in LANGUAGES for key in sorted(CATALOG.messages[language])]


# --- reading the HTML back --------------------------------------------------------------------
class Shown(HTMLParser):
    """What Element shows for an HTML body: its tags, code elements, links and the text outside code."""

    def __init__(self, formatted_body: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.codes: list[str] = []
        self.links: list[tuple[str, str]] = []
        self.outside_code: list[str] = []
        self.text: list[str] = []
        self._code: list[str] | None = None
        self._link: tuple[str, list[str]] | None = None
        self.feed(formatted_body)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "code":
            self._code = []
        if tag == "a":
            self._link = (dict(attrs).get("href") or "", [])

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "code" and self._code is not None:
            self.codes.append("".join(self._code))
            self._code = None
        if tag == "a" and self._link is not None:
            self.links.append((self._link[0], "".join(self._link[1])))
            self._link = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._code is not None:
            self._code.append(data)
        else:
            self.outside_code.append(data)
        if self._link is not None:
            self._link[1].append(data)

    @property
    def plain(self) -> str:
        return "".join(self.text)


VISIBLE_ESCAPE = re.compile(r"\\[!-/:-@\[-`{-~]")


def assert_no_visible_escape(shown: Shown, *inputs: str) -> None:
    """No backslash before a Markdown special outside code, but for those the input has."""
    outside = "".join(shown.outside_code)
    for text in sorted(inputs, key=len, reverse=True):
        outside = outside.replace(text, "")
    assert not VISIBLE_ESCAPE.findall(outside), outside


def fields(template: str) -> list[str]:
    return list(dict.fromkeys(f for _, f, _, _ in string.Formatter().parse(template) if f is not None))


def sentinel(name: str) -> str:
    return f"Zq{name.replace('_', '')}Zq"


def layout(template: str) -> tuple[Shown, dict[str, bool]]:
    """The message with harmless values, and which placeholders sit inside a code span."""
    shown = Shown(to_html(fill(template, {name: sentinel(name) for name in fields(template)})))
    inside = {name: any(sentinel(name) in c for c in shown.codes) for name in fields(template)}
    for name, in_code in inside.items():
        assert in_code or sentinel(name) in "".join(shown.outside_code), name
    return shown, inside


def without_br(tags: list[str]) -> list[str]:
    return [tag for tag in tags if tag != "br"]


# --- every catalog message -------------------------------------------------------------------
@pytest.mark.parametrize(("language", "key"), MESSAGES)
def test_every_catalog_message_shows_hostile_values_as_typed(language: str, key: str) -> None:
    template = CATALOG.messages[language][key]
    names = fields(template)
    if not names:  # nothing is put in: the message renders as written, with no escape to show
        assert_no_visible_escape(Shown(to_html(CATALOG.t(language, key))))
        return
    harmless, inside = layout(template)
    for n, free in enumerate((FREE, FREE_LINES)):
        values = {name: IDS[(i + n) % len(IDS)] if inside[name] else free for i, name in enumerate(names)}
        markdown = fill(template, values)
        shown = Shown(to_html(markdown))
        # Nothing was added: no link, emphasis, list, heading or HTML element came from the values.
        assert without_br(shown.tags) == without_br(harmless.tags), (markdown, shown.tags)
        assert "evil.example" not in "".join(href for href, _ in shown.links)
        outside = [name for name in names if not inside[name]]
        if outside:
            assert shown.plain.count(free) >= 1, (markdown, shown.plain)
            assert free.strip() in to_plain(markdown), "the plain body shows the text as typed"
        for name in names:
            if inside[name]:
                # The code element is what the user must type: the template's text with the value, byte for byte.
                expected = next(c for c in harmless.codes if sentinel(name) in c)
                for other in names:
                    expected = expected.replace(sentinel(other), values[other])
                assert expected in shown.codes, (markdown, shown.codes)
        assert_no_visible_escape(shown, *(v for k, v in values.items() if not inside[k]))


PEOPLE_MESSAGES = [
    (language, key)
    for language, key in MESSAGES
    if key not in NOT_PEOPLE and PEOPLE & set(fields(CATALOG.messages[language][key]))
]


@pytest.mark.parametrize(("language", "key"), PEOPLE_MESSAGES)
def test_every_person_in_a_message_is_a_mention_pill(language: str, key: str) -> None:
    template = CATALOG.messages[language][key]
    harmless, inside = layout(template)
    names = fields(template)
    people = [name for name in names if name in PEOPLE]
    assert not any(inside[name] for name in people), "a person is a link, not code"
    values = {name: mentions(ODD_USERS) if name in PEOPLE else (IDS[0] if inside[name] else "plain") for name in names}
    shown = Shown(to_html(fill(template, values)))
    assert [href for href, _ in shown.links] == [matrix_to(user) for user in ODD_USERS] * len(people)
    for href, text in shown.links:
        assert href.startswith(MATRIX_TO + "@")
        assert unquote(href.removeprefix(MATRIX_TO)) == text, "the link goes to the person it shows"
    assert [text for _, text in shown.links] == ODD_USERS * len(people)
    assert without_br([t for t in shown.tags if t != "a"]) == without_br(harmless.tags)


@pytest.mark.parametrize("key", sorted(CATALOG.messages["en"]))
def test_a_placeholder_is_code_in_every_language_or_in_none(key: str) -> None:
    placement = {language: layout(CATALOG.messages[language][key])[1] for language in LANGUAGES}
    assert placement["nb"] == placement["en"] == placement["sv"], placement


# --- the refusals users copy from ---------------------------------------------------------------
def test_an_id_in_a_refusal_can_be_copied_as_typed() -> None:
    text = CATALOG.t(
        "nb", "consent.missing", consent="Samtykke til dokumentasjon", id="samtykke-dokumentasjon", state="ventende"
    )
    shown = Shown(to_html(text))
    assert "!consent yes samtykke-dokumentasjon" in shown.codes
    assert "\\" not in "".join(shown.codes)
    assert "`!consent yes samtykke-dokumentasjon`" in to_plain(text)


def test_a_consent_request_mentions_the_guardians_as_pills() -> None:
    text = CATALOG.t("nb", "consent.how_reply", people=mentions(["@guardian:server", "@far_2:server"]))
    shown = Shown(to_html(text))
    assert shown.links[:2] == [
        ("https://matrix.to/#/@guardian:server", "@guardian:server"),
        ("https://matrix.to/#/@far_2:server", "@far_2:server"),
    ]
    assert "[@guardian:server]" not in shown.plain


def test_a_user_id_with_link_characters_cannot_inject_a_link() -> None:
    hostile = "@x](http://evil.example)[y:evil.example"
    shown = Shown(to_html(CATALOG.t("en", "team.role", user=mention(hostile), lane="Kommune")))
    assert len(shown.links) == 1
    href, text = shown.links[0]
    assert text == hostile and unquote(href.removeprefix(MATRIX_TO)) == hostile
    assert "http://evil.example" not in href.removeprefix(MATRIX_TO).replace("%", "")


@pytest.mark.parametrize(
    "user", [*ODD_USERS, "@x)(y]:evil.example", "@a b:c", "@%41:x", "@a/b?c#d:x", "@<b>:x", "@`x`:x"]
)
def test_a_mention_of_an_odd_id_is_exactly_one_link_to_that_id(user: str) -> None:
    shown = Shown(to_html(f"before {mention(user)} after"))
    assert len(shown.links) == 1
    href, text = shown.links[0]
    assert text == user and href.startswith(MATRIX_TO) and unquote(href.removeprefix(MATRIX_TO)) == user
    assert shown.tags == ["p", "a"]


@pytest.mark.parametrize(
    "user",
    [*ODD_USERS, "@x)(y]:evil.example", "@x](http://evil.example)[y:evil.example", "@a b:c", "@`x`:x", "@a\\b:x"],
)
def test_the_plain_body_names_a_mentioned_person_by_id_without_link_markdown(user: str) -> None:
    # The plain body is what a notification shows: "⏰ @nurse:server: …", not "[@nurse:server](https://matrix.to/…)".
    plain = to_plain(f"⏰ {mention(user)}, {mention('@b:x')}: {code('!ack x')}")
    assert plain == f"⏰ {user}, @b:x: `!ack x`"


def test_a_plain_id_keeps_the_form_element_writes() -> None:
    assert matrix_to("@under_score:server.org:8448") == "https://matrix.to/#/@under_score:server.org:8448"


# --- code, escape, fill ---------------------------------------------------------------------
@given(st.text(alphabet=st.sampled_from("`ab -_\\*[]()<>&.!"), min_size=1))
def test_code_round_trips_any_text_with_backticks_byte_equal(text: str) -> None:
    shown = Shown(to_html(f"x {code(text)} y"))
    assert shown.codes == [text]


@pytest.mark.parametrize("text", ["a`b", "`a", "b`", "``", "` `", " a ", "a``b```c", "x\\y"])
def test_code_of_text_with_backticks_renders_exactly_that_text(text: str) -> None:
    assert Shown(to_html(code(text))).codes == [text]


@pytest.mark.parametrize("char", string.punctuation)
def test_escape_of_every_ascii_punctuation_character_renders_literally(char: str) -> None:
    for text in (char, char * 3, f"a{char}b", f"{char} x", f"1{char} x"):
        shown = Shown(to_html(escape(text)))
        assert shown.plain == text, (escape(text), shown.plain)
        assert shown.tags == ["p"], (text, shown.tags)
        assert "\\" not in shown.plain or "\\" in text
        assert to_plain(escape(text)) == text


@given(st.text())
def test_escaped_text_of_any_kind_adds_no_element(text: str) -> None:
    rendered = to_html(f"Note: {escape(text)} (end)")
    shown = Shown(rendered)
    assert set(shown.tags) <= {"p", "br"}, rendered
    assert not shown.links and not shown.codes


def test_a_blank_line_in_free_text_stays_inside_the_sentence() -> None:
    shown = Shown(to_html("**" + escape("a\n\nb") + "** end"))
    assert shown.tags == ["p", "strong", "br", "br"]
    assert shown.plain == "a\n\nb end"


def test_fill_puts_a_placeholder_in_a_code_span_raw_and_one_outside_escaped() -> None:
    text = fill("`!ack {item}` for {title}", {"item": "a_b-c", "title": "*x*"})
    assert text == "`!ack a_b-c` for \\*x\\*" and isinstance(text, Markdown)


def test_fill_passes_markdown_through_and_keeps_format_specs() -> None:
    assert fill("{a} {n:03d} {b!r}", {"a": Markdown("**x**"), "n": 7, "b": "y"}) == "**x** 007 'y'"


def test_a_code_span_whose_value_holds_backticks_still_shows_the_value() -> None:
    text = fill("Write `!ack {item} <lane>`.", {"item": "a``b"})
    assert Shown(to_html(text)).codes == ["!ack a``b <lane>"]


def test_catalog_messages_are_markdown_so_they_nest_unescaped() -> None:
    state = CATALOG.t("en", "consent.state_given")
    assert isinstance(state, Markdown)
    assert CATALOG.t("en", "consent.now", state=state) == "The consent is now **given**."


# --- the message templates ------------------------------------------------------------------
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PATHWAYS = shipped_pathways()
HOSTILE_TITLE = "*Tittel* _x_ [link](http://evil.example) <b>b</b> `c` a-b.c_d"
HOSTILE_LANE = "Kommune <i>x</i> *y* [z](http://evil.example)"
HOSTILE_LABEL = "Sjø_stjerne-2 *x*"


def _context(language: str) -> Context:
    event = IncomingCommand(
        room_id="!r:localhost",
        event_id="$e",
        sender="@anna:localhost",
        body="",
        timestamp_ms=0,
        encrypted=True,
        room_encrypted=True,
    )
    # Only what `Context.t` reads is real: the language and the services' catalog.
    return Context(
        event=event,
        command=cast(Command, None),
        language=language,
        db=cast(aiosqlite.Connection, None),
        services=cast(Services, SimpleNamespace(catalog=CATALOG)),
        now=NOW,
    )


def _hostile_case() -> CaseView:
    """The Telemark pathway with hostile phase and lane names, and a task that odd users acknowledged."""
    base = PATHWAYS["sthf"]
    lanes = [lane.model_copy(update={"name": f"{HOSTILE_LANE} {lane.id}"}) for lane in base.lanes]
    phases = [phase.model_copy(update={"title": f"{HOSTILE_TITLE} {phase.id}"}) for phase in base.phases]
    pathway = base.model_copy(update={"lanes": lanes, "phases": phases})
    phase = pathway.phases[0].id
    lane = pathway.lanes[0].id
    members = {user: Membership(user, lane, False) for user in ODD_USERS}
    task = Item(id="action-1", kind="task", title=HOSTILE_TITLE, text=FREE, mandatory=False, lane=lane)
    records = {task.id: ItemRecord(acks=[Ack(lane, ODD_USERS[1], NOW)])}
    other = pathway.phases[0].items[0]
    records[other.id] = ItemRecord(assigned_to=ODD_USERS[0])
    return CaseView(
        pathway=pathway,
        label=HOSTILE_LABEL,
        phase_id=phase,
        dates={},
        members=members,
        records=records,
        extra={task.id: ExtraTask(task, phase, NOW + timedelta(days=2))},
    )


def _check_template_output(markdown: str, view: CaseView) -> Shown:
    shown = Shown(to_html(markdown))
    assert not [t for t in shown.tags if t in {"b", "i", "script", "em", "img"}], shown.tags
    assert all(href.startswith(MATRIX_TO + "@") for href, _ in shown.links), shown.links
    assert all(unquote(href.removeprefix(MATRIX_TO)) == text for href, text in shown.links)
    assert HOSTILE_TITLE in shown.plain and HOSTILE_LABEL in shown.plain and HOSTILE_LANE in shown.plain
    item_ids = {item.id for item in view.phase_items()}
    assert item_ids <= set(shown.codes), "every item id is shown as code, as typed"
    assert_no_visible_escape(shown)
    plain = notice_content(markdown)["body"]
    assert HOSTILE_TITLE in plain and HOSTILE_LABEL in plain
    return shown


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_checklist_shows_hostile_titles_as_typed_and_people_as_pills(language: str) -> None:
    view = _hostile_case()
    shown = _check_template_output(checklist_markdown(_context(language), view), view)
    assert [text for _, text in shown.links] == [ODD_USERS[0], ODD_USERS[1]]


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_status_shows_hostile_titles_as_typed_and_people_as_pills(language: str) -> None:
    ctx, view = _context(language), _hostile_case()
    calendar = view.calendar()
    lines: dict[str, list] = {phase.id: [] for phase in view.pathway.phases}
    for phase, item in view.items():
        lines[phase.id].append(item_line(ctx, view, item, calendar))
    phases = [{"id": phase.id, "title": phase.title, "lines": lines[phase.id]} for phase in view.pathway.phases]
    markdown = render_template(
        "messages/status.md.j2", t=ctx.t, label=view.label, pathway=view.pathway, current=view.phase, phases=phases
    )
    shown = _check_template_output(markdown, view)
    assert {text for _, text in shown.links} == {ODD_USERS[0], ODD_USERS[1]}
    assert {item.id for _, item in view.items()} <= set(shown.codes)


# --- the export templates -------------------------------------------------------------------
KEEP = {"language", "timezone", "country", "pathway_id", "state", "kind", "answer", "id", "ref", "phase"}


def _hostile(value: Any, name: str = "", seen: dict[str, str] | None = None) -> Any:
    """The document with every text people or pathways wrote replaced by hostile text.

    Equal texts stay equal (and different ones different), so the document keeps its shape.
    """
    seen = {} if seen is None else seen
    if isinstance(value, str):
        return value if name in KEEP else seen.setdefault(value, f"{FREE} {len(seen)}")
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(_hostile(v, f, seen) for f, v in zip(value._fields, value, strict=True)))
    if isinstance(value, (tuple, list)):
        return type(value)(_hostile(v, name, seen) for v in value)
    if isinstance(value, dict):
        return {k: _hostile(v, k, seen) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: _hostile(getattr(value, f.name), f.name, seen) for f in dataclasses.fields(value) if f.init}
        return dataclasses.replace(value, **changes)
    return value


@pytest.mark.parametrize("make", [swedish_plan, swedish_minutes], ids=["plan", "minutes"])
def test_the_markdown_export_shows_hostile_text_as_typed_and_keeps_its_tables(make: Callable[[], Document]) -> None:
    harmless, hostile = render_markdown(make()), render_markdown(_hostile(make()))
    reader = MarkdownIt("commonmark", {"html": True}).enable("table")  # even a renderer that lets HTML through
    plain_tags, shown = Shown(reader.render(harmless)).tags, Shown(reader.render(hostile))
    assert shown.tags == plain_tags, "the same document: no element added, no table cell split"
    assert not shown.links
    assert shown.plain.count(FREE) >= 10
    assert_no_visible_escape(shown)


@pytest.mark.parametrize("make", [swedish_plan, swedish_minutes], ids=["plan", "minutes"])
def test_the_html_export_shows_hostile_text_as_typed(make: Callable[[], Document]) -> None:
    page = render_html(_hostile(make()))
    assert "<script>alert" not in page and "<b>bold" not in page and 'href="http://evil' not in page
    assert html.escape(FREE, quote=False) in page


@pytest.mark.parametrize("language", ["nb", "sv", "en"])
def test_a_date_on_a_saturday_is_said_to_be_a_saturday(language: str) -> None:
    said = CATALOG.t(
        language,
        "plan.not_working_day",
        label="Utskrivning",
        day="2026-12-05",
        why=CATALOG.t(language, "plan.saturday"),
        proposal="2026-12-07",
        name="discharge",
    )
    assert {"nb": "er en lørdag", "sv": "är en lördag", "en": "is a Saturday"}[language] in to_plain(said)
