"""Localized wording: Norwegian bokmål, Swedish and English; catalogs and message templates.

Short texts live in one TOML catalog per language under `templates/locale/`, keyed by a
dotted name and written in Markdown with `{placeholders}`. A missing key falls back to
English, so a half-translated catalog never breaks a reply (a unit test keeps the three
catalogs complete).

A message that says a number of something has its plural forms: a table with `by` (the
placeholder that holds the number), `one` (said of exactly 1) and `other` (0, 2, 3, …; the
rule of bokmål, Swedish and English alike):

    rate_limited = { by = "count", one = "… 1 gång …", other = "… {count} gånger …" }

A value that is a `homeward.text.Term` (a catalog key) is put in as that word of the language.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from homeward.text import Markdown, Term, code, escape, fill

LANGUAGES = ("nb", "sv", "en")
FALLBACK = "en"
TEMPLATES_DIR = Path(str(resources.files("homeward.templates")))  # package data
#: The catalogs' section of words people type as arguments (`Catalog.words`).
WORDS = "words."
#: The parts of a message with plural forms: the placeholder holding the number, and the two forms.
PLURAL_BY, PLURAL_ONE, PLURAL_OTHER = "by", "one", "other"


def _flatten(prefix: str, table: dict[str, Any], out: dict[str, str]) -> None:
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            _flatten(name + ".", value, out)
        else:
            out[name] = str(value)


class _Catalogs(dict[str, dict[str, str]]):
    """The messages of each language by key, a language's catalog read when it is first wanted (each of the
    three TOML files takes ~17 ms to read: an answer in one language needs only that one, and English)."""

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.directory = directory

    def __missing__(self, language: str) -> dict[str, str]:
        if language not in LANGUAGES:
            raise KeyError(language)
        table = tomllib.loads((self.directory / f"{language}.toml").read_text(encoding="utf-8"))
        flat: dict[str, str] = {}
        _flatten("", table, flat)
        self[language] = flat
        return flat

    def get(self, language: str, default: Any = None) -> Any:  # dict.get skips __missing__
        return self[language] if language in LANGUAGES or language in self else default


class Catalog:
    """All messages of all languages, each language's read when first wanted."""

    def __init__(self, directory: Path = TEMPLATES_DIR / "locale") -> None:
        self.messages: dict[str, dict[str, str]] = _Catalogs(directory)
        #: The words people may type as arguments (`[words]`), each the union of all the languages' own; made
        #: when first asked for (`words`).
        self._words: dict[str, frozenset[str]] | None = None

    def words(self, name: str) -> frozenset[str]:
        """The words that mean `name` (`words.<name>` of the catalogs), lower-case, in any of the languages:
        `words("force")` is {"force", "tving", "tvinga"}. Every room accepts all of them."""
        if self._words is None:
            words: dict[str, frozenset[str]] = {}
            for language in LANGUAGES:
                for key, text in self.messages[language].items():
                    if key.startswith(WORDS):
                        word = key[len(WORDS) :]
                        words[word] = words.get(word, frozenset()) | set(text.lower().split())
            self._words = words
        return self._words[name]

    def _text(self, language: str, key: str) -> str | None:
        return self.messages.get(language, {}).get(key) or self.messages[FALLBACK].get(key)

    def plural(self, key: str) -> bool:
        """Whether `key` is a message with plural forms (`by`, `one`, `other`)."""
        return f"{key}.{PLURAL_OTHER}" in self.messages[FALLBACK]

    def t(self, language: str, key: str, /, **values: Any) -> Markdown:
        """The message `key` in `language`, with `values` filled in by where each goes (homeward.text.fill).

        A message with plural forms takes the form for the number in its `by` placeholder; a
        `Term` value is the catalog's word in this language."""
        text = self._text(language, key)
        if text is None and self.plural(key):
            by = self._text(language, f"{key}.{PLURAL_BY}") or ""
            if by not in values:
                raise KeyError(f"message {key!r} needs the number {by!r}")
            form = PLURAL_ONE if _is_one(values[by]) else PLURAL_OTHER
            text = self._text(language, f"{key}.{form}")
        if text is None:
            raise KeyError(f"no message {key!r} in the catalogs")
        if not values:
            return Markdown(text)
        words = {name: self.t(language, value) if isinstance(value, Term) else value for name, value in values.items()}
        return fill(text, words)


def _is_one(number: Any) -> bool:
    """Whether a count reads as "one" (1, or the text "1"): the singular in bokmål, Swedish and English."""
    try:
        return int(str(number)) == 1
    except ValueError:
        return False


_env = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    undefined=StrictUndefined,  # a misspelt variable is an error in tests, not an empty gap
    autoescape=False,  # Markdown, not HTML: free text goes through the `md` filter, ids through `code`
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=False,
)
_env.filters["md"] = escape
_env.filters["code"] = code


def render_template(name: str, **values: Any) -> str:
    """A message template under `templates/messages/` (checklists, status), as Markdown."""
    return _env.get_template(name).render(**values).strip()
