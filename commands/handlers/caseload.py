"""The coordinator's desk, in the direct chat: `!cases`, `!digest`, `!settings digest`.

A person's cases are read in one query whatever their number (`store.caseload.cases_of`); the
care logic (`care.caseload`) says what each line holds and which come first. The answers
speak the language of the person's latest case (their region's), or the bot's configured
language for someone in no case.
"""

from __future__ import annotations

from homeward.care.caseload import CasesFilter, CaseSummary, language_of, page_of, select
from homeward.care.permissions import ANYONE
from homeward.care.worklist import parse_digest_time, worklist
from homeward.commands.context import Context, Reply
from homeward.commands.registry import PRIVATE_CHAT, Arg, CommandError, Section, command
from homeward.messages.caseload import CaseloadSpeaker, case_line, worklist_json, worklist_markdown
from homeward.store import caseload as caseload_rows
from homeward.store import people as people_rows
from homeward.work.worklists import caseload_speaker, load_caseload, schedule_worklist

#: The filters of `!cases`, each typed as one of the catalogs' words of its name.
FILTERS: tuple[CasesFilter, ...] = ("all", "overdue", "open")


def filter_arg(text: str, ctx: Context) -> str:
    """`all` or `overdue` (or a page number, for `!cases 2`)."""
    word = text.strip().lower()
    if word.isdigit():
        return word
    chosen = next((name for name in FILTERS if word in ctx.services.catalog.words(name)), None)
    if chosen is None:
        raise CommandError("desk.bad_filter", usage=True, word=word[:20])
    return chosen


def page_arg(text: str, ctx: Context) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise CommandError("desk.bad_page", usage=True, value=text[:20])
    return int(text)


def _speaker(ctx: Context, summaries: list[CaseSummary]) -> CaseloadSpeaker:
    """The person's desk speaks their latest case's language; a refusal from here on does too."""
    ctx.language = language_of(summaries, ctx.language)
    return caseload_speaker(ctx.services, ctx.language, ctx.now)


async def _worklist_footer(ctx: Context, speaker: CaseloadSpeaker) -> str:
    """When the person's worklist comes, or how to turn it on; nothing for someone who coordinates no open case."""
    if not await caseload_rows.coordinated_pathways(ctx.db, ctx.sender):
        return ""
    setting = (await people_rows.person(ctx.db, ctx.sender)).digest or ctx.services.config.digest_time
    if setting == "off":
        return speaker.t("desk.footer_off")
    return speaker.t("desk.footer", time=setting)


@command(
    "cases",
    args=[Arg("which", filter_arg, optional=True, metavar="all|overdue"), Arg("page", page_arg, optional=True)],
    where=PRIVATE_CHAT,
    rule=ANYONE,
    help_section=Section.DESK,
)
async def cases_(ctx: Context) -> Reply:
    """Every case you coordinate or are a member of, one line each, the most urgent first."""
    word, page = ctx.args["which"] or "open", ctx.args["page"] or 1
    if word.isdigit():
        word, page = "open", int(word)
    which: CasesFilter = next(name for name in FILTERS if name == word)  # filter_arg gave a filter's own name
    summaries = await load_caseload(ctx.db, ctx.services, ctx.sender, ctx.now, closed=True)  # one read, closed ones too
    speaker = _speaker(ctx, summaries)
    chosen = select(summaries, which)
    await ctx.audit("cases.listed", which=which, count=len(chosen))
    if not chosen:
        if not summaries:
            key = "desk.none"
        elif which == "overdue":
            key = "desk.none_overdue"
        else:
            key = "desk.only_closed"
        return ctx.ok(speaker.t(key), cases=[], cases_total=0)
    shown, pages = page_of(chosen, page)
    page = min(page, pages)
    lines = [speaker.t(f"desk.title_{which}", count=len(chosen)), "", *(case_line(speaker, s) for s in shown)]
    if pages > 1:
        words = "" if which == "open" else f"{which} "
        following = page + 1 if page < pages else 1
        lines += ["", speaker.t("desk.page", page=page, pages=pages, command=f"!cases {words}{following}")]
    footer = await _worklist_footer(ctx, speaker)
    if footer:
        lines += ["", footer]
    return ctx.ok("\n".join(lines), cases=[s.as_json() for s in shown], cases_total=len(chosen), page=page, pages=pages)


@command("digest", where=PRIVATE_CHAT, rule=ANYONE, help_section=Section.DESK)
async def digest_(ctx: Context) -> Reply:
    """Your worklist as it is now: due today, overdue, receipts awaited, consents pending, quiet cases."""
    summaries = await load_caseload(ctx.db, ctx.services, ctx.sender, ctx.now)
    speaker = _speaker(ctx, summaries)
    found = worklist(summaries, ctx.now, ctx.services.config.timezone, ctx.services.config.quiet_days, ctx.sender)
    await ctx.audit("digest.read", cases=[s.case_id for s in found.cases])
    if not found:
        key = (
            "digest.nothing"
            if await caseload_rows.coordinated_pathways(ctx.db, ctx.sender)
            else "digest.not_a_coordinator"
        )
        return ctx.ok(speaker.t(key), digest=[])
    return ctx.ok(
        worklist_markdown(speaker, found),
        digest=worklist_json(found),
        digest_day=found.day.isoformat(),
        digest_cases=len(found.cases),
    )


@command(
    "settings digest",
    args=[Arg("time", metavar="HH:MM|off")],
    where=PRIVATE_CHAT,
    rule=ANYONE,
    help_section=Section.ROOM,
)
async def settings_digest(ctx: Context) -> Reply:
    """When your morning worklist comes on working days (your local time), or `off`."""
    value = ctx.args["time"].strip().lower()
    if value in ctx.services.catalog.words("off"):
        value = "off"
    try:
        at = parse_digest_time(value)
    except ValueError:
        raise CommandError("settings.bad_digest", usage=True, value=value[:20]) from None
    stored = "off" if at is None else at.strftime("%H:%M")
    await people_rows.set_digest(ctx.db, ctx.sender, stored)
    await schedule_worklist(ctx.db, ctx.services, ctx.sender, ctx.now)
    await ctx.audit("settings.changed", digest=stored)
    summaries = await load_caseload(ctx.db, ctx.services, ctx.sender, ctx.now)
    speaker = _speaker(ctx, summaries)
    if at is None:
        return ctx.ok(speaker.t("settings.digest_off"), digest_time=None)
    text: str = speaker.t("settings.digest_set", time=stored)
    if not await caseload_rows.coordinated_pathways(ctx.db, ctx.sender):
        text += " " + speaker.t("settings.digest_no_cases")
    return ctx.ok(text, digest_time=stored)
