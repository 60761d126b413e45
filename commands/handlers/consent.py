"""Guardian consent: `!consents`, `!consent ask`, `!consent yes|no|revoke <consent-id>`.

A consent is a command, recorded like any other, however it is given: typed, replied to the
request ("ja"), or voted in the request's poll. The poll spec advises against polls for
decisions of weight, and votes can be undecryptable: so a vote is only a way to run this
command — from the person asked, through the same gate, ledger and audit row — and the bot
confirms each one in the room, and the request shows the answers that count.
"""

from __future__ import annotations

from homeward.care.consent import (
    Answer,
    AnswerWord,
    answers_that_count,
    check_answer,
    consent_state,
    covering,
    latest_answers,
    next_to_ask,
    who_answers,
)
from homeward.care.pathway import Consent
from homeward.care.permissions import COORDINATOR, FAMILY_ANSWERS, MEMBER
from homeward.care.refusal import Refusal
from homeward.commands.context import Context, Reply
from homeward.commands.registry import ANY_STATE, CASE_ROOM, Arg, CommandError, Section, command
from homeward.messages.speaker import local_text
from homeward.store import consents
from homeward.text import code, escape, mention, mentions
from homeward.work.consents import ask, ask_next, edit_requests, next_request, start_round


@command("consents", where=CASE_ROOM, rule=MEMBER, state=ANY_STATE, help_section=Section.CONSENT)
async def list_consents(ctx: Context) -> Reply:
    """Each consent with its state, who must answer, who answered and when; a covered one with its rule."""
    case, view = ctx.care.case, ctx.care.view
    answers = await consents.answers(ctx.db, case.id)
    lines, listing = [], []
    for consent in view.pathway.consents:
        state = consent_state(view, consent, answers)
        latest = latest_answers(answers, consent.id)
        who = ", ".join(
            f"{mention(a.user_id)}: {ctx.t('consent.answer_' + a.answer)} {local_text(a.at, view.pathway)}"
            for a in latest.values()
        )
        line = f"- {escape(consent.title)} ({code(consent.id)}) — **{ctx.t('consent.state_' + state)}**" + (
            f" ({who})" if who else ""
        )
        cover = covering(view, consent)
        if cover is not None and consent.covered_by is not None:
            line += "\n  " + ctx.t(
                "consent.covered_line",
                covering=cover.title,
                rule=consent.covered_by.rule,
                source=consent.covered_by.source,
            )
        elif state == "pending":
            people = who_answers(view, consent)
            line += "\n  " + (
                ctx.t("consent.answered_by", people=mentions(people)) if people else ctx.t("consent.nobody_to_ask")
            )
        lines.append(line)
        listing.append(
            {
                "id": consent.id,
                "kind": consent.id,
                "title": consent.title,
                "state": state,
                "covered_by": cover.id if cover else None,
                "must_answer": who_answers(view, consent),
                "answers": [
                    {"user": a.user_id, "answer": a.answer, "at": a.at.isoformat()}
                    for a in answers
                    if a.consent_id == consent.id
                ],
            }
        )
    await ctx.audit("consents.read")
    return ctx.ok(ctx.t("consent.title") + "\n\n" + "\n".join(lines), consents=listing)


@command(
    "consent ask",
    args=[Arg("consent-id", optional=True)],
    where=CASE_ROOM,
    rule=COORDINATOR,
    help_section=Section.CONSENT,
)
async def consent_ask(ctx: Context) -> Reply:
    """Ask the family again: the consent they are asked now, or the one named."""
    room = ctx.care
    view = room.view
    answers = await consents.answers(ctx.db, room.case.id)
    consent: Consent | None
    if ctx.args["consent-id"]:
        consent_id = ctx.args["consent-id"].lower()
        try:
            consent = view.pathway.consent(consent_id)
        except KeyError:
            raise Refusal(
                "consent.unknown",
                id=consent_id,
                ids=", ".join(c.id for c in view.pathway.consents if c.covered_by is None),
            ) from None
        cover = covering(view, consent)
        if cover is not None:
            raise Refusal("consent.covered", title=consent.title, covering=cover.title, id=cover.id)
        if consent_state(view, consent, answers) == "given" or not who_answers(view, consent):
            return ctx.ok(ctx.t("consent.nothing_to_ask"), asked=[])
    else:
        consent = next_to_ask(view, answers)
        if consent is None:
            return ctx.ok(ctx.t("consent.nothing_to_ask"), asked=[])
    await ask(room, consent)
    return ctx.ok(
        ctx.t("consent.asked", title=consent.title, people=mentions(who_answers(view, consent))), asked=[consent.id]
    )


async def _answer(ctx: Context, word: AnswerWord) -> Reply:
    """The one way an answer is recorded.

    It is typed as a command, given as a reply to a request (`IncomingCommand.by_reply`), or a vote
    in the request's poll (`IncomingCommand.by_poll`: `commands.dispatch.handle_vote` turns a changed
    vote from yes to no into `revoke`, a withdrawal, and says so in the confirmation).
    """
    room = ctx.care
    case, view = room.case, room.view
    consent = check_answer(view, ctx.args["consent-id"], ctx.sender)
    before = await consents.answers(ctx.db, case.id)
    mine = answers_that_count(view, consent, before).get(ctx.sender)  # asked again: an earlier round's yes is not
    if mine is not None and (ctx.event.by_reply or (ctx.event.by_poll and mine.answer == word)):
        # A reply to a request already answered by this person (perhaps an old message): their answer
        # stands; changing it takes the command, typed on purpose, or a changed vote. A vote for what
        # they answered already changes nothing either.
        return _unchanged(ctx, consent, mine, before)
    if consent.id not in view.consent_rounds:
        # Answered before it was asked: who must answer is fixed now, as a request would fix it.
        await start_round(room, consent, "answered")
        view = room.view
    entry = Answer(consent.id, ctx.sender, word, ctx.now)
    await consents.add_answer(ctx.db, case.id, entry, ctx.event.event_id)
    await ctx.audit("consent.answered", consent=consent.id, answer=word)
    answers = await consents.answers(ctx.db, case.id)
    state = consent_state(view, consent, answers)
    await edit_requests(room, consent)
    text = (
        ctx.t(f"consent.recorded_{word}", title=consent.title)
        + " "
        + ctx.t("consent.now", state=ctx.t("consent.state_" + state))
    )
    upcoming = None
    if state != "pending":
        # The next request, in the same transaction as this answer, but after the answer's
        # confirmation: the person reads what was recorded, then what is asked next.
        upcoming = await next_request(room)
        if upcoming is not None:

            async def ask_the_next() -> None:
                await ask_next(room)

            room.after_answer(ask_the_next)
    if ctx.event.by_poll and word == "revoke":
        text = ctx.t("consent.vote_withdrawn") + " " + text  # a changed vote: said as what it is
    return ctx.ok(text, consent={"id": consent.id, "state": state}, next_consent=upcoming.id if upcoming else None)


def _unchanged(ctx: Context, consent: Consent, mine: Answer, answers: list[Answer]) -> Reply:
    """A reply or vote that says again what its sender answered: their answer stands, nothing is recorded."""
    view = ctx.care.view
    state = consent_state(view, consent, answers)
    text = (
        ctx.t(
            "consent.already_answered",
            answer=ctx.t("consent.answer_" + mine.answer),
            at=local_text(mine.at, view.pathway),
            title=consent.title,
        )
        + " "
        + ctx.t("consent.change_" + state, id=consent.id)
    )
    return ctx.ok(text, consent={"id": consent.id, "state": state, "unchanged": True})


@command("consent yes", args=[Arg("consent-id")], where=CASE_ROOM, rule=FAMILY_ANSWERS, help_section=Section.CONSENT)
async def consent_yes(ctx: Context) -> Reply:
    """Give consent (guardians; the young person where the case says so)."""
    return await _answer(ctx, "yes")


@command("consent no", args=[Arg("consent-id")], where=CASE_ROOM, rule=FAMILY_ANSWERS, help_section=Section.CONSENT)
async def consent_no(ctx: Context) -> Reply:
    """Refuse consent."""
    return await _answer(ctx, "no")


@command(
    "consent revoke",
    args=[Arg("consent-id")],
    where=CASE_ROOM,
    rule=FAMILY_ANSWERS,
    state=ANY_STATE,
    help_section=Section.CONSENT,
)
async def consent_revoke(ctx: Context) -> Reply:
    """Withdraw a consent at any time: what it covers stops at once."""
    return await _answer(ctx, "revoke")


@command(
    "settings consent",
    args=[Arg("who", metavar="guardians|child")],
    where=CASE_ROOM,
    rule=COORDINATOR,
    help_section=Section.ROOM,
)
async def settings_consent(ctx: Context) -> Reply:
    """Who answers the consents the pathway lets a young person answer: the guardians (default) or the child."""
    room = ctx.care
    view = room.view
    word = ctx.args["who"].lower()
    role: str | None
    guardians, child = ctx.services.catalog.words("guardians"), ctx.services.catalog.words("child")
    if word in guardians | child:
        role = "child" if word in child else "guardian"
    else:
        lane = view.pathway.find_lane(word)
        role = lane.role if lane is not None else None
        if role not in ("guardian", "child"):
            raise CommandError("settings.consent_who", usage=True, value=word[:40])
    allowing = [c for c in view.pathway.consents if c.answered_by == "child_or_guardians" and c.covered_by is None]
    if role == "child" and not allowing:
        raise Refusal("settings.consent_child_not_in_pathway")
    enabled = role == "child"
    await consents.set_child_answers(ctx.db, room.case.id, enabled)
    await ctx.audit("settings.changed", child_answers=enabled)
    await room.reload()
    if enabled != view.child_answers:
        # Others answer now: each asked consent it concerns is asked of them anew (a new round).
        for consent in allowing:
            if consent.id in room.view.consent_rounds:
                await start_round(room, consent, "settings")
    # Those asked now are others: the consent asked now goes to them, naming exactly them.
    current = next_to_ask(room.view, await consents.answers(ctx.db, room.case.id))
    if enabled != view.child_answers and current is not None and current in allowing:
        await ask(room, current)
    titles = ", ".join(c.title for c in allowing)
    return ctx.ok(
        ctx.t("settings.consent_child" if enabled else "settings.consent_guardians", titles=titles or "—"),
        child_answers=enabled,
    )
