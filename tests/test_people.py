"""Specification: a person named in a command by an Element pill.

The code: bot/events.py, commands/parser.py, commands/arguments.py.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

import pytest

from homeward.bot.events import pills_of
from homeward.commands.arguments import person_arg, person_or_lane_arg
from homeward.commands.context import Context
from homeward.commands.parser import parse
from homeward.commands.registry import CommandError

KARI = "@kari:example.org"


def pill(user: str, name: str) -> str:
    return f'<a href="https://matrix.to/#/{user}">{name}</a>'


def ctx(*pills: tuple[str, str]) -> Context:
    """A stand-in for the command's context: the converters read only the event's pills."""
    return cast(Context, SimpleNamespace(event=SimpleNamespace(pills=tuple(pills))))


def test_the_pills_of_a_message_are_its_matrix_to_user_links_with_their_names() -> None:
    html = (
        f"!assign konsultation {pill(KARI, 'Nurse Kari')} and <a href='https://example.org'>x</a> "
        f"{pill('@a%3Ab:x', 'A')}"
    )
    assert pills_of({"formatted_body": html}) == (("Nurse Kari", KARI), ("A", "@a:b:x"))
    assert pills_of({"body": "no html"}) == ()
    assert pills_of({"formatted_body": "<a href='https://matrix.to/#/!room:x'>room</a>"}) == ()


def test_a_pills_name_of_several_words_is_one_token() -> None:
    line = parse("!assign konsultation Nurse Kari", ("Nurse Kari",))
    assert line is not None and [t.text for t in line.tokens] == ["konsultation", "Nurse Kari"]
    plain = parse("!assign konsultation Nurse Kari")
    assert plain is not None and [t.text for t in plain.tokens] == ["konsultation", "Nurse", "Kari"]


def test_a_person_is_a_user_id_a_link_or_a_pills_name() -> None:
    assert person_arg(KARI, ctx()) == KARI
    assert person_arg(f"https://matrix.to/#/{KARI}", ctx()) == KARI
    assert person_arg("Nurse Kari", ctx(("Nurse Kari", KARI))) == KARI
    assert person_arg("@nurse kari", ctx(("Nurse Kari", KARI))) == KARI


def test_a_name_two_pills_show_is_asked_back_and_a_bare_name_is_refused() -> None:
    with pytest.raises(CommandError) as asked:
        person_arg("Kari", ctx(("Kari", KARI), ("Kari", "@kari2:example.org")))
    assert asked.value.key == "team.ambiguous_person"
    with pytest.raises(CommandError) as refused:
        person_arg("Kari", ctx())
    assert refused.value.key == "team.bad_user"


def test_an_owner_is_a_person_by_pill_or_id_and_otherwise_a_lane_as_typed() -> None:
    assert person_or_lane_arg("Nurse Kari", ctx(("Nurse Kari", KARI))) == KARI
    assert person_or_lane_arg("kommun", ctx(("Nurse Kari", KARI))) == "kommun"
    assert person_or_lane_arg(KARI, ctx()) == KARI
