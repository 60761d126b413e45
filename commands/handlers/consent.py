"""Guardian consent: `!consents`, `!consent ask`, `!consent yes|no|revoke <consent-id>`.

Polls are not used: the poll spec advises against them for decisions of weight and
their votes can be undecryptable. A consent is a command, recorded like any other.
"""

from __future__ import annotations

from homeward.care.consent import Answer, answered_by, check_answer, consent_state, latest_answers, people_with_role, who_answers
from homeward.care.pathway import Consent
from homeward.care.permissions import COORDINATOR, FAMILY_ANSWERS, MEMBER
from homeward.care.refusal import Refusal
from homeward.commands.care_room import CareRoom
from homeward.commands.checklist import local_text
from homeward.commands.context import Context, Reply
from homeward.commands.registry import ANY_STATE, CASE_ROOM, Arg, command
from homeward.render import alert_content
from homeward.text import Markdown, code, escape, mention, mentions
from homeward.store import consents


def consent_request(room: CareRoom, consent: Consent) -> dict:
    """The message that asks the guardians (and the young person, where allowed) in plain words."""
    people = who_answers(room.view, consent)
    rule = room.t(f"consent.rule_{consent.answered_by}")
    text = (
        f"🔏 **{escape(consent.title)}** ({code(consent.id)})\n\n{escape(consent.text)}\n\n"
        + room.t("consent.how", people=mentions(people), id=consent.id)
        + " " + rule
    )
    content = alert_content(text, people)
    content["homeward.consent_request"] = consent.id
    return content


async def ask(room: CareRoom, only: list[Consent] | None = None, after_join: str | None = None) -> list[str]:
    """Post a request for each consent that is not given yet; the ids asked.

    `after_join`: hold the message until that person has joined the room, so they can read it.
    """
    view = room.view
    answers = await consents.answers(room.db, room.case.id)
    asked = []
    for consent in only or view.pathway.consents:
        if consent_state(view, consent, answers) == "given" or not who_answers(view, consent):
            continue
        content = consent_request(room, consent)
        if after_join:
            content["homeward.after_join"] = after_join
        await room.queue(content)
        await room.audit("consent.asked", consent=consent.id, asked=who_answers(view, consent))
        asked.append(consent.id)
    return asked


async def ask_person(room: CareRoom, user_id: str) -> list[str]:
    """Ask for the consents `user_id` now answers that are not given yet (they were just put in a guardian or child lane).

    The request waits in the outbox until they have joined, so they can read it.
    """
    mine = [c for c in room.view.pathway.consents if user_id in who_answers(room.view, c)]
    return await ask(room, mine, after_join=user_id) if mine else []


async def announce_answerer_moved(room: CareRoom, user_id: str, before: str | None, after: str | None) -> bool:
    """Tell the room, mentioning the guardians, that someone who answered a consent changed lane (or left); audited.

    Their answers keep counting (`care.consent`): the room is told so nobody takes the
    move for a change of the consent. Nothing is said for someone who never answered.
    """
    answers = answered_by(await consents.answers(room.db, room.case.id), user_id)
    if not answers:
        return False
    view = room.view
    pathway = view.pathway
    given = ", ".join(f"{code(cid)} ({room.t('consent.answer_' + a.answer)})" for cid, a in sorted(answers.items()))
    lane_name = lambda lane: pathway.lane(lane).name if lane else room.t("team.no_lane")  # noqa: E731
    if after is None:
        text = room.t("consent.answerer_left", user=mention(user_id), before=lane_name(before), answers=Markdown(given))
    else:
        text = room.t("consent.answerer_moved", user=mention(user_id), before=lane_name(before), after=lane_name(after),
                      answers=Markdown(given))
    guardians = people_with_role(view, "guardian")
    told = sorted({*guardians, *([user_id] if after is not None else [])})
    text += " " + room.t("consent.answers_still_count", guardians=mentions(guardians))
    content = alert_content(text, told)
    content["homeward.answerer_moved"] = {"user": user_id, "from": before, "to": after, "consents": sorted(answers)}
    await room.queue(content)
    await room.audit("consent.answerer_moved", user=user_id, previous_lane=before, lane=after, consents=sorted(answers))
    return True


@command("consents", where=CASE_ROOM, rule=MEMBER, state=ANY_STATE)
async def list_consents(ctx: Context) -> Reply:
    """Each consent kind with its state, who answered and when."""
    case, view = ctx.care.case, ctx.care.view
    answers = await consents.answers(ctx.db, case.id)
    lines, listing = [], []
    for consent in view.pathway.consents:
        state = consent_state(view, consent, answers)
        latest = latest_answers(answers, consent.id)
        who = ", ".join(
            f"{mention(a.user_id)}: {ctx.t('consent.answer_' + a.answer)} {local_text(a.at, view.pathway)}" for a in latest.values()
        )
        lines.append(f"- {code(consent.id)} {escape(consent.title)} — **{ctx.t('consent.state_' + state)}**" + (f" ({who})" if who else ""))
        listing.append({
            "id": consent.id, "kind": consent.id, "title": consent.title, "state": state,
            "answers": [{"user": a.user_id, "answer": a.answer, "at": a.at.isoformat()} for a in answers if a.consent_id == consent.id],
        })
    await ctx.audit("consents.read")
    return ctx.ok(ctx.t("consent.title") + "\n\n" + "\n".join(lines), consents=listing)


@command("consent ask", args=[Arg("consent-id", optional=True)], where=CASE_ROOM, rule=COORDINATOR)
async def consent_ask(ctx: Context) -> Reply:
    """Ask the guardians again (all pending consents, or one)."""
    view = ctx.care.view
    only = None
    if ctx.args["consent-id"]:
        consent_id = ctx.args["consent-id"].lower()
        only = [c for c in view.pathway.consents if c.id == consent_id]
        if not only:
            raise Refusal("consent.unknown", id=consent_id, ids=", ".join(c.id for c in view.pathway.consents))
    asked = await ask(ctx.care, only)
    key = "consent.asked" if asked else "consent.nothing_to_ask"
    return ctx.ok(ctx.t(key, ids=", ".join(asked)), asked=asked)


async def _answer(ctx: Context, word: str) -> Reply:
    case, view = ctx.care.case, ctx.care.view
    consent = check_answer(view, ctx.args["consent-id"], ctx.sender)
    entry = Answer(consent.id, ctx.sender, word, ctx.now)  # type: ignore[arg-type]
    await consents.add_answer(ctx.db, case.id, entry, ctx.event.event_id)
    await ctx.audit("consent.answered", consent=consent.id, answer=word)
    state = consent_state(view, consent, await consents.answers(ctx.db, case.id))
    text = ctx.t(f"consent.recorded_{word}", title=consent.title) + " " + ctx.t("consent.now", state=ctx.t("consent.state_" + state))
    return ctx.ok(text, consent={"id": consent.id, "state": state})


@command("consent yes", args=[Arg("consent-id")], where=CASE_ROOM, rule=FAMILY_ANSWERS)
async def consent_yes(ctx: Context) -> Reply:
    """Give consent (guardians; the young person where the pathway allows)."""
    return await _answer(ctx, "yes")


@command("consent no", args=[Arg("consent-id")], where=CASE_ROOM, rule=FAMILY_ANSWERS)
async def consent_no(ctx: Context) -> Reply:
    """Refuse consent."""
    return await _answer(ctx, "no")


@command("consent revoke", args=[Arg("consent-id")], where=CASE_ROOM, rule=FAMILY_ANSWERS, state=ANY_STATE)
async def consent_revoke(ctx: Context) -> Reply:
    """Withdraw a consent at any time: what it covers stops at once."""
    return await _answer(ctx, "revoke")
