"""Specification of the message catalogs (templates/locale/*.toml, messages/catalog.py)."""

from __future__ import annotations

import string
import tomllib
from pathlib import Path

import pytest

import homeward.commands.handlers  # noqa: F401  (registers every command)
from homeward.commands.registry import Section, registry
from homeward.messages.catalog import FALLBACK, LANGUAGES, TEMPLATES_DIR, Catalog

LOCALE = TEMPLATES_DIR / "locale"
OTHERS = [language for language in LANGUAGES if language != FALLBACK]


def flat(language: str) -> dict[str, str]:
    """The catalog file of `language` as {"section.key": text}, read independently of Catalog."""
    out: dict[str, str] = {}

    def walk(prefix: str, table: dict[str, object]) -> None:
        for key, value in table.items():
            if isinstance(value, dict):
                walk(f"{prefix}{key}.", value)
            else:
                out[f"{prefix}{key}"] = str(value)

    walk("", tomllib.loads((LOCALE / f"{language}.toml").read_text(encoding="utf-8")))
    return out


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog()


@pytest.mark.parametrize("language", OTHERS)
def test_catalog_has_exactly_the_english_keys(language: str) -> None:
    english, other = set(flat(FALLBACK)), set(flat(language))
    assert other - english == set(), f"{language}.toml has keys that en.toml lacks"
    assert english - other == set(), f"{language}.toml lacks keys of en.toml"


@pytest.mark.parametrize("language", OTHERS)
def test_each_message_has_the_english_placeholders(language: str) -> None:
    english, other = flat(FALLBACK), flat(language)
    differing = {
        key: (sorted(placeholders(english[key])), sorted(placeholders(other[key])))
        for key in english.keys() & other.keys()
        if placeholders(english[key]) != placeholders(other[key])
    }
    assert differing == {}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_a_valid_format_string(language: str) -> None:
    for key, text in flat(language).items():
        try:
            list(string.Formatter().parse(text))
        except ValueError as exc:
            pytest.fail(f"{language}.toml {key}: {exc}")


def test_registry_has_commands() -> None:
    assert {"help", "ping"} <= {c.name for c in registry.all()}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_registered_command_has_help_in_the_catalog(language: str, catalog: Catalog) -> None:
    missing = [c.help_key for c in registry.all() if c.help_key not in catalog.messages[language]]
    assert missing == []


@pytest.mark.parametrize("language", ["nb", "sv", "en"])
def test_every_command_names_its_help_section_and_the_catalog_has_its_heading(language: str, catalog: Catalog) -> None:
    """Each handler says where `!help` lists it (`help_section=`): none is left to "other"."""
    assert [c.name for c in registry.all() if c.help_section == Section.OTHER] == []
    headings = {"help.group_" + c.help_section.name for c in registry.all()} | {"help.group_other"}
    assert headings <= set(catalog.messages[language])


def test_help_lists_the_commands_in_the_sections_they_had() -> None:
    sections: dict[str, list[str]] = {}
    for c in registry.all():
        sections.setdefault(c.help_section.name, []).append(c.name)
    assert sections == {
        "items": ["ack", "assign", "phase next", "reason", "remind", "reminders", "send", "snooze", "status"],
        "documents": [
            "audit",
            "export case",
            "export events",
            "export minutes",
            "export plan",
            "stats",
            "stats review",
        ],
        "room": [
            "case close",
            "case new",
            "case reopen",
            "help",
            "pathways",
            "ping",
            "settings consent",
            "settings digest",
            "settings quiet",
            "settings reactions",
            "settings update",
        ],
        "desk": ["cases", "digest"],
        "consent": ["consent ask", "consent no", "consent revoke", "consent yes", "consents"],
        "team": ["handover", "invite", "role", "team", "trust"],
        "meetings": [
            "meeting new",
            "minutes action",
            "minutes close",
            "minutes decision",
            "minutes note",
            "minutes present",
            "minutes reopen",
            "minutes topic",
        ],
        "dates": [
            "plan",
            "plan action",
            "plan followup",
            "plan goal",
            "plan remove",
            "plan responsible",
            "plan set",
            "plan show",
            "plan subgoal",
            "timeline",
        ],
    }
    order = sorted({c.help_section for c in registry.all()}, key=lambda section: section.order)
    assert [s.name for s in order] == ["items", "dates", "consent", "team", "meetings", "documents", "desk", "room"]


def test_the_words_people_type_are_those_of_all_three_catalogs(catalog: Catalog) -> None:
    """Each word is written once, in its language's catalog; every room accepts all of them."""
    assert {name: set(catalog.words(name)) for name in ("force", "all", "overdue", "open", "on", "off")} == {
        "force": {"force", "tving", "tvinga"},
        "all": {"all", "alle", "alla"},
        "overdue": {"overdue", "forfalt", "forfalte", "forsenade", "försenade"},
        "open": {"open"},
        "on": {"on"},
        "off": {"off"},
    }
    assert catalog.words("yes") == {"ja", "yes"} and catalog.words("no") == {"nei", "nej", "no"}
    assert catalog.words("coordinator") == {"coordinator", "koordinator", "samordnare", "samordningsansvarig"}
    assert catalog.words("guardians") == {"guardians", "guardian"}
    assert catalog.words("child") == {"child", "young-person"}


def test_no_word_means_two_things(catalog: Catalog) -> None:
    names = ["force", "all", "overdue", "open", "on", "off", "yes", "no", "coordinator", "guardians", "child"]
    seen: dict[str, str] = {}
    for name in names:
        for word in catalog.words(name):
            assert word not in seen, f"{word!r} means both {seen[word]!r} and {name!r}"
            seen[word] = name


def test_a_key_missing_in_another_language_falls_back_to_english(tmp_path: Path) -> None:
    (tmp_path / "en.toml").write_text('[help]\nping = "answers pong"\nhelp = "lists {what}"\n', encoding="utf-8")
    (tmp_path / "nb.toml").write_text('[help]\nhelp = "viser {what}"\n', encoding="utf-8")
    (tmp_path / "sv.toml").write_text("", encoding="utf-8")
    partial = Catalog(tmp_path)
    assert partial.t("nb", "help.ping") == "answers pong"
    assert partial.t("sv", "help.help", what="allt") == "lists allt"
    assert partial.t("nb", "help.help", what="alt") == "viser alt"


def test_an_unknown_language_falls_back_to_english(catalog: Catalog) -> None:
    assert catalog.t("de", "help.ping") == catalog.t("en", "help.ping")


def test_t_fills_in_placeholders(catalog: Catalog) -> None:
    assert catalog.t("en", "error.too_long", limit=10) == (
        "This command is too long (more than 10 characters). Nothing was changed."
    )


def test_a_key_missing_everywhere_is_a_key_error(catalog: Catalog) -> None:
    with pytest.raises(KeyError, match=r"no\.such\.key"):
        catalog.t("nb", "no.such.key")
