"""Jinja2 templates for the longer messages (checklists, status, notices) and exports."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from homeward.i18n import TEMPLATES_DIR
from homeward.render import md_escape

_env = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    undefined=StrictUndefined,  # a misspelt variable is an error in tests, not an empty gap
    autoescape=False,  # Markdown, not HTML: user text is escaped with the `md` filter
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=False,
)
_env.filters["md"] = md_escape


def render(name: str, **values: Any) -> str:
    return _env.get_template(name).render(**values).strip()
