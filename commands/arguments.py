"""Argument types shared by several commands: a person, a date, a time of day, a pathway.

Each converter turns one typed token into a value or raises a `CommandError` that says
what was wrong; a converter used by one command only stays beside its handler.

A person: the one place a typed name becomes a Matrix user id.

A person is written as a user id (`@kari:server`), as a matrix.to link, or — what Element's
composer makes of `@Kari` — as a pill: the body then holds the display name, the HTML body a
matrix.to link to the user and `m.mentions` their id (`bot.events.pills_of` reads the pills,
the parser keeps a pill's name of several words as one token). The id is taken from the pill,
never guessed from a name: two pills showing the same name are asked back.
"""

from __future__ import annotations

import re
from datetime import date, time
from typing import TYPE_CHECKING

from homeward.care.pathway import Pathway
from homeward.commands.registry import CommandError
from homeward.ids import is_user_id
from homeward.text import mentions

if TYPE_CHECKING:
    from homeward.commands.context import Context

MATRIX_TO = "https://matrix.to/#/"


def pill_users(text: str, ctx: Context) -> list[str]:
    """The users whose pill in this message shows `text` (a display name, with or without its @)."""
    wanted = " ".join(text.split()).removeprefix("@").casefold()
    found = [user for name, user in ctx.event.pills if " ".join(name.split()).removeprefix("@").casefold() == wanted]
    return sorted(set(found))


def person_arg(text: str, ctx: Context) -> str:
    """A person: a user id, a matrix.to link, or the name of a pill in the message; asked back when ambiguous."""
    plain = text.strip().removeprefix(MATRIX_TO)
    if is_user_id(plain):
        return plain
    users = [u for u in pill_users(text, ctx) if is_user_id(u)]
    if len(users) == 1:
        return users[0]
    if len(users) > 1:
        raise CommandError("team.ambiguous_person", name=text[:80], users=mentions(users))
    raise CommandError("team.bad_user", usage=True, user=text[:80])


def person_or_lane_arg(text: str, ctx: Context) -> str:
    """A pill or user id as the user id; anything else as typed (a lane, found later by the care logic)."""
    plain = text.strip().removeprefix(MATRIX_TO)
    if plain.startswith("@") or pill_users(text, ctx):
        return person_arg(text, ctx)
    return text


ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
CLOCK = re.compile(r"^\d{1,2}[:.]\d{2}$")


def date_arg(text: str, ctx: Context) -> date:
    if not ISO_DATE.match(text):
        raise CommandError("plan.bad_date", usage=True, value=text[:40])
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError("plan.no_such_date", usage=True, value=text) from None


def time_arg(text: str, ctx: Context) -> time:
    if not CLOCK.match(text):
        raise CommandError("plan.bad_time", usage=True, value=text[:40])
    hours, minutes = (int(p) for p in re.split(r"[:.]", text))
    if hours > 23 or minutes > 59:
        raise CommandError("plan.bad_time", usage=True, value=text)
    return time(hours, minutes)


def pathway_arg(text: str, ctx: Context) -> Pathway:
    pathway = ctx.services.pathways.get(text.strip().lower())
    if pathway is None:
        raise CommandError(
            "case.unknown_pathway", usage=True, pathway=text, known=", ".join(sorted(ctx.services.pathways))
        )
    return pathway
