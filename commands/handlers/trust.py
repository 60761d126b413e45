"""`!trust`: a coordinator restores trust in a member whose identity changed, after checking with them.

When a member's cross-signing identity changes (they reset it, or someone who took over their
account did), nothing of theirs acts and their devices get no room keys (homeward.work.trust).
A coordinator who has checked with the person — by phone, in person — that the reset was
theirs runs `!trust @person`: the new identity is pinned, their devices it signed are trusted
from then on, every care room of theirs is told, and it is audited in each. While every
coordinator of the case is one whose identity changed, a member of a care lane may do it.
"""

from __future__ import annotations

from homeward.care.permissions import CARE_TEAM
from homeward.commands.arguments import person_arg
from homeward.commands.context import Context, Reply
from homeward.commands.registry import ANY_STATE, CASE_ROOM, Arg, CommandError, Section, command
from homeward.store.trust import TrustBook
from homeward.text import mention
from homeward.work import trust


@command(
    "trust",
    args=[Arg("user", person_arg, metavar="@user:server")],
    where=CASE_ROOM,
    rule=CARE_TEAM,
    state=ANY_STATE,
    help_section=Section.TEAM,
)
async def trust_person(ctx: Context) -> Reply:
    """Trust a member's new identity, once you have checked with them that they reset it themselves."""
    room = ctx.care
    user = ctx.args["user"]
    if user not in room.view.members or user == ctx.services.config.user_id:
        raise CommandError("team.not_member", user=mention(user))
    book = ctx.services.trust
    member = room.member
    if member is None or not member.coordinator:
        # A care lane stands in only while no coordinator can act (each one's identity changed).
        able = [c for c in room.view.coordinators() if not _changed(book, c)]
        if able:
            raise CommandError("trust.coordinators_first")
    if user == ctx.sender:
        raise CommandError("trust.not_yourself")
    pinned = await trust.restore(room, user)
    if pinned is None:
        raise CommandError("trust.nothing_changed", user=mention(user))
    return ctx.ok(ctx.t("trust.restored", by=mention(ctx.sender), user=mention(user)), master_key=pinned)


def _changed(book: TrustBook, user_id: str) -> bool:
    identity = book.identity(user_id)
    return identity is not None and identity.changed
