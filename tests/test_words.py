"""Words that say what they mean: every catalog message rendered as people read it.

Each message of each language is rendered with every number it says set to 0, 1 and 2, and
with every state word the code puts in: no English word in a Norwegian or Swedish room ("som
är pending"), and the plural form right in each language ("1 punkter", "2 dag").
"""

from __future__ import annotations

import re
import string

import pytest

from homeward.matrix.content import to_plain
from homeward.messages.catalog import LANGUAGES, PLURAL_BY, PLURAL_ONE, PLURAL_OTHER, Catalog
from homeward.text import Term, code_spans

CATALOG = Catalog()

#: The placeholders that hold a number of something.
NUMBERS = {
    "count",
    "days",
    "limit",
    "n",
    "more",
    "done",
    "total",
    "items",
    "overdue",
    "late",
    "dates",
    "clocks",
    "cases",
    "rows",
    "length",
    "minutes",
    "hours",
    "weeks",
    "open",
    "every",
}
#: The placeholders that hold a state word, with every word the code puts there.
STATES = {"state": [Term(f"consent.state_{s}") for s in ("pending", "given", "refused", "withdrawn")]}

#: Nouns whose singular and plural differ, per language: "1 <plural>" and "2 <singular>" are wrong.
NOUNS = {
    "sv": [
        ("dag", "dagar"),
        ("arbetsdag", "arbetsdagar"),
        ("gång", "gånger"),
        ("punkt", "punkter"),
        ("klocka", "klockor"),
        ("rad", "rader"),
        ("minut", "minuter"),
        ("timme", "timmar"),
        ("uppgift", "uppgifter"),
        ("samtycke", "samtycken"),
        ("vecka", "veckor"),
        ("person", "personer"),
        ("ärende", "ärenden"),
    ],
    "nb": [
        ("dag", "dager"),
        ("virkedag", "virkedager"),
        ("gang", "ganger"),
        ("punkt", "punkter"),
        ("klokke", "klokker"),
        ("sak", "saker"),
        ("rad", "rader"),
        ("minutt", "minutter"),
        ("time", "timer"),
        ("oppgave", "oppgaver"),
        ("samtykke", "samtykker"),
        ("uke", "uker"),
        ("dato", "datoer"),
        ("melding", "meldinger"),
        ("person", "personer"),
    ],
    "en": [
        ("day", "days"),
        ("working day", "working days"),
        ("time", "times"),
        ("item", "items"),
        ("clock", "clocks"),
        ("case", "cases"),
        ("row", "rows"),
        ("minute", "minutes"),
        ("hour", "hours"),
        ("task", "tasks"),
        ("consent", "consents"),
        ("week", "weeks"),
        ("date", "dates"),
        ("character", "characters"),
        ("notice", "notices"),
        ("person", "people"),
    ],
}
#: English words that must never reach a Norwegian or Swedish reader (state words, as the code names them).
ENGLISH = ["pending", "given", "refused", "withdrawn", "overdue", "done", "open", "revoke", "none"]


def fields(template: str) -> list[str]:
    return list(dict.fromkeys(f for _, f, _, _ in string.Formatter().parse(template) if f))


def messages(language: str) -> list[str]:
    """Every message key of the language, a message with plural forms once (by its own key)."""
    keys = set()
    for key in CATALOG.messages[language]:
        head, _, last = key.rpartition(".")
        keys.add(head if last in (PLURAL_BY, PLURAL_ONE, PLURAL_OTHER) and CATALOG.plural(head) else key)
    return sorted(keys)


def template_fields(language: str, key: str) -> list[str]:
    if CATALOG.plural(key):
        one = CATALOG.messages[language][f"{key}.{PLURAL_ONE}"]
        other = CATALOG.messages[language][f"{key}.{PLURAL_OTHER}"]
        return list(dict.fromkeys([*fields(one), *fields(other), CATALOG.messages[language][f"{key}.{PLURAL_BY}"]]))
    return fields(CATALOG.messages[language][key])


def renderings(language: str, key: str) -> list[tuple[int, str]]:
    """The message with each count 0, 1, 2 (all numbers at once), and each state word; its plain text outside code."""
    names = template_fields(language, key)
    out = []
    states = [name for name in names if name in STATES]
    for number in (0, 1, 2):
        for variant in range(max([len(STATES[s]) for s in states], default=1)):
            values: dict[str, object] = {}
            for name in names:
                if name in NUMBERS:
                    values[name] = number
                elif name in STATES:
                    values[name] = STATES[name][variant % len(STATES[name])]
                else:
                    values[name] = "Xyz"
            plain = to_plain(CATALOG.t(language, key, **values))
            out.append((number, "".join(piece for piece, in_code in code_spans(plain) if not in_code)))
    return out


CASES = [(language, key) for language in LANGUAGES for key in messages(language) if not key.startswith("words.")]


@pytest.mark.parametrize(("language", "key"), CASES)
def test_every_message_says_each_number_in_the_right_form(language: str, key: str) -> None:
    for number, text in renderings(language, key):
        for singular, plural in NOUNS[language]:
            if number == 1:
                wrong = re.search(rf"(?<![\d.,])1 (?:[\wåäöæø-]+ ){{0,2}}{plural}\b", text)
                assert wrong is None, f"{key} with 1: {wrong.group()!r} in {text!r}"
            else:
                wrong = re.search(rf"(?<![\d.,]){number} (?:[\wåäöæø-]+ ){{0,2}}{singular}\b(?![\wåäöæø])", text)
                assert wrong is None, f"{key} with {number}: {wrong.group()!r} in {text!r}"


@pytest.mark.parametrize(("language", "key"), [(lang, key) for lang, key in CASES if lang != "en"])
def test_no_english_word_in_a_norwegian_or_swedish_message(language: str, key: str) -> None:
    for _, text in renderings(language, key):
        found = [w for w in ENGLISH if re.search(rf"(?<![\w-]){w}(?![\w-])", text, re.IGNORECASE)]
        assert found == [], f"{key}: {found} in {text!r}"


def test_a_message_with_plural_forms_takes_the_form_of_its_number() -> None:
    assert CATALOG.t("sv", "error.rate_limited", name="remind", count=1, period="1 tim", wait="5 min").count("1 gång ")
    assert "3 gånger" in CATALOG.t("sv", "error.rate_limited", name="remind", count=3, period="1 tim", wait="5 min")


def test_a_term_is_the_word_of_the_readers_language() -> None:
    text = CATALOG.t("sv", "consent.now", state=Term("consent.state_pending"))
    assert "väntar" in text and "pending" not in text


@pytest.mark.parametrize("language", LANGUAGES)
def test_plural_tables_name_a_placeholder_both_forms_use(language: str) -> None:
    for key in messages(language):
        if CATALOG.plural(key):
            by = CATALOG.messages[language][f"{key}.{PLURAL_BY}"]
            assert by in fields(CATALOG.messages[language][f"{key}.{PLURAL_OTHER}"]), key
