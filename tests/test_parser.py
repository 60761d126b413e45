"""Specification of the command grammar (commands/parser.py)."""

from __future__ import annotations

import pytest

from homeward.commands.parser import MAX_COMMAND_LENGTH, CommandLine, ParseError, parse


def parsed(body: str) -> CommandLine:
    line = parse(body)
    assert line is not None, f"{body!r} should be a command"
    return line


def texts(line: CommandLine) -> list[str]:
    return [t.text for t in line.tokens]


# --- what is a command ----------------------------------------------------------------


def test_exclamation_prefix_makes_a_command() -> None:
    line = parsed("!ping")
    assert (line.prefix, line.name, line.tokens) == ("!", "ping", [])


def test_slash_prefix_makes_a_command() -> None:
    line = parsed("/ping")
    assert (line.prefix, line.name) == ("/", "ping")


def test_command_name_is_case_insensitive() -> None:
    assert parsed("!PiNg").name == "ping"


def test_name_may_contain_digits_dashes_and_underscores() -> None:
    assert parsed("!case-new_2 x").name == "case-new_2"


def test_leading_whitespace_before_the_prefix_is_ignored() -> None:
    assert parsed("  \n !ping").name == "ping"


def test_name_followed_by_a_line_break_is_a_command() -> None:
    line = parsed("!note\nfirst line")
    assert line.name == "note"
    assert texts(line) == ["first", "line"]


@pytest.mark.parametrize(
    "body",
    [
        "hello",
        "!important: bring the oxygen",
        "/usr/bin is a directory",
        "/usr/bin",
        "! ping",
        "/ ping",
        "!",
        "",
        "!!ping",
        "!1st",
        "ping!",
        "say !ping",
        "!ping? anyone",
        "https://example.org",
    ],
)
def test_chat_is_not_a_command(body: str) -> None:
    assert parse(body) is None


# --- tokens ---------------------------------------------------------------------------


def test_words_are_split_on_any_whitespace() -> None:
    assert texts(parsed("!plan  discharge \t 2025-03-01\n now")) == ["discharge", "2025-03-01", "now"]


def test_straight_double_quotes_make_one_token() -> None:
    assert texts(parsed('!case new "Emma N" 2025-03-01')) == ["new", "Emma N", "2025-03-01"]


@pytest.mark.parametrize(
    ("opening", "closing"),
    [("“", "”"), ("„", "“"), ("«", "»"), ("”", "”")],
    ids=["english", "german-nordic-low", "guillemets", "swedish"],
)
def test_typographic_quotes_make_one_token(opening: str, closing: str) -> None:
    assert texts(parsed(f"!case new {opening}Emma N{closing} x")) == ["new", "Emma N", "x"]


def test_empty_quotes_make_an_empty_token() -> None:
    assert texts(parsed('!note "" x')) == ["", "x"]


def test_quoted_token_keeps_inner_spacing_and_line_breaks() -> None:
    assert texts(parsed('!note "a  b\nc"')) == ["a  b\nc"]


def test_token_offsets_point_into_the_text() -> None:
    line = parsed('!case new "Emma N"')
    assert [line.text[t.start] for t in line.tokens] == ["n", '"']


def test_unbalanced_quote_is_a_parse_error_naming_the_command() -> None:
    with pytest.raises(ParseError) as caught:
        parse('!Case new "Emma N')
    assert caught.value.key == "error.unbalanced_quote"
    assert caught.value.name == "case"
    assert caught.value.values == {"quote": '"'}


def test_unbalanced_typographic_quote_reports_the_opening_mark() -> None:
    with pytest.raises(ParseError) as caught:
        parse("!case new «Emma N")
    assert caught.value.values == {"quote": "«"}


def test_command_of_the_maximum_length_is_accepted() -> None:
    body = "!note " + "x" * (MAX_COMMAND_LENGTH - len("!note "))
    assert parsed(body).name == "note"


def test_too_long_command_is_a_parse_error_naming_the_command() -> None:
    body = "!note " + "x" * MAX_COMMAND_LENGTH
    with pytest.raises(ParseError) as caught:
        parse(body)
    assert caught.value.key == "error.too_long"
    assert caught.value.name == "note"
    assert caught.value.values == {"limit": MAX_COMMAND_LENGTH}


def test_too_long_chat_is_not_an_error() -> None:
    assert parse("hello " * MAX_COMMAND_LENGTH) is None


# --- reply fallbacks ------------------------------------------------------------------


def test_reply_fallback_lines_are_stripped() -> None:
    line = parsed("> <@nurse:example.org> !plan discharge\n> second quoted line\n\n!ping now")
    assert line.name == "ping"
    assert line.text == "!ping now"
    assert texts(line) == ["now"]


def test_reply_to_a_command_with_chat_is_not_a_command() -> None:
    assert parse("> <@nurse:example.org> !ping\n\nthanks!") is None


def test_reply_fallback_with_an_empty_quoted_line_is_stripped() -> None:
    assert parsed("> <@a:example.org> first\n>\n> third\n\n!ping").name == "ping"


# --- the rest of the line -------------------------------------------------------------


def test_rest_keeps_line_breaks_and_spacing() -> None:
    line = parsed("!note  Fever   38.5\n\n  gave  paracetamol  \n")
    assert line.rest(0) == "Fever   38.5\n\n  gave  paracetamol"


def test_rest_from_a_later_token() -> None:
    line = parsed("!note add  line one\nline  two")
    assert line.rest(1) == "line one\nline  two"


def test_rest_past_the_last_token_is_empty() -> None:
    line = parsed("!note add")
    assert line.rest(1) == ""
    assert line.rest(5) == ""


def test_rest_after_a_reply_fallback_is_the_new_text_only() -> None:
    line = parsed("> <@a:example.org> old\n\n!note  new   text")
    assert line.rest(0) == "new   text"


def test_a_zero_width_space_after_the_name_separates_like_a_space():
    line = parse("!ack\u200binskrivning")

    assert line is not None and line.name == "ack"
    assert [t.text for t in line.tokens] == ["inskrivning"]


def test_invisible_marks_before_the_prefix_or_around_arguments_are_ignored():
    line = parse("\ufeff\u200e!ack inskrivning\u200b \u200fnote")

    assert line is not None and line.name == "ack"
    assert [t.text for t in line.tokens] == ["inskrivning", "note"]
