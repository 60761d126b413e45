"""Asking the family: a consent request posted, asked again of someone new, edited after each answer,
and the room told when someone who answered moves lane. Each runs inside a care room's unit of work.

Who must answer is fixed when a consent is first asked (`care.case.ConsentRound`, recorded in
`consent_askees`): the members of the answering lanes then, and whoever is put into them later
(`lane_entered`, which also tells the guardians already there). When someone asked leaves the
answering lanes — moved by `!role`, removed, gone — before the consent was given (`lane_left`),
the consent is asked again of those who remain, in a new round in which only the answers given
since count; the guardians (and the one moved) are told, mentioned, and it is audited.
"""

from __future__ import annotations

import logging

from homeward.care.consent import (
    ConsentState,
    answered_by,
    answering_lanes_members,
    answers_that_count,
    consent_state,
    next_to_ask,
    people_with_role,
    reply_answer,
    who_answers,
)
from homeward.care.pathway import Consent
from homeward.matrix.content import alert_content
from homeward.matrix.relations import edit_of, reply_relation
from homeward.messages.consents import request_content
from homeward.messages.speaker import local_text
from homeward.store import consents, outbox
from homeward.store.cases import load_room
from homeward.store.db import Store
from homeward.store.state import mark_handled
from homeward.text import Markdown, code, escape, mention, mentions
from homeward.work import safeguards
from homeward.work.care_room import CareRoom
from homeward.work.polls import post_details, post_poll
from homeward.work.services import Services

log = logging.getLogger(__name__)


async def ask(
    room: CareRoom, consent: Consent, *, notify: list[str] | None = None, after_join: str | None = None
) -> None:
    """Post one request for `consent` (its own message, recorded, so a reply to it answers it), audited.

    `notify`: whom it mentions (default: those asked who have not answered yet). `after_join`:
    hold the message until that person has joined the room, so they can read it.
    """
    if consent.id not in room.view.consent_rounds:
        await start_round(room, consent, "asked")  # who must answer is fixed now
    view = room.view
    answers = await consents.answers(room.db, room.case.id)
    people = who_answers(view, consent)
    if notify is None:
        latest = answers_that_count(view, consent, answers)
        notify = [p for p in people if p not in latest] or people
    content = request_content(room, view, consent, answers, notify)
    if after_join:
        content["homeward.after_join"] = after_join
    await post_details(room, consent, after_join=after_join)  # what to read first: it names nobody
    row = await room.queue(content)
    await consents.add_request(room.db, room.case.id, consent.id, row, room.now)
    await post_poll(room, consent, after_join=after_join)  # the question, answered in one tap
    await room.audit("consent.asked", consent=consent.id, asked=people, round=view.consent_rounds[consent.id].number)


async def start_round(room: CareRoom, consent: Consent, reason: str) -> None:
    """Begin a new round of `consent`: those in its answering lanes now must answer it, and only answers
    given from now on count (round 1: any). The view is reloaded."""
    current = room.view.consent_rounds.get(consent.id)
    number = current.number + 1 if current else 1
    await consents.add_round(room.db, room.case.id, consent.id, number, room.now, reason)
    for user_id in answering_lanes_members(room.view, consent):
        await consents.add_askee(room.db, room.case.id, consent.id, number, user_id, room.now, late=False)
    await room.reload()


async def ensure_rounds(room: CareRoom) -> None:
    """Consents asked before who must answer was recorded (an older release): their first round, with the
    members of the answering lanes as they are now. Run before a lane change, so it is measured against them."""
    asked = {r.consent_id for r in await consents.requests(room.db, room.case.id)}
    for consent_id in sorted(asked - set(room.view.consent_rounds)):
        try:
            consent = room.view.pathway.consent(consent_id)
        except KeyError:
            continue  # a consent the pathway no longer has
        await start_round(room, consent, "recorded")


def states(room: CareRoom, answers: list) -> dict[str, ConsentState]:
    """Every consent's state as the view says now (before a lane change, to compare after it)."""
    return {c.id: consent_state(room.view, c, answers) for c in room.view.pathway.consents}


async def lane_entered(room: CareRoom, user_id: str, lane_id: str) -> list[str]:
    """`user_id` was put into a guardian or child lane: they must answer every asked consent of that lane
    too (added to its round), and the guardians already there are told, mentioned; audited. The consents
    they were added to."""
    view = room.view
    added: list[str] = []
    for consent in view.pathway.consents:
        current = view.consent_rounds.get(consent.id)
        if current is None or user_id in current.askees or user_id not in answering_lanes_members(view, consent):
            continue
        await consents.add_askee(room.db, room.case.id, consent.id, current.number, user_id, room.now, late=True)
        added.append(consent.id)
    if added:
        await room.reload()
    family = sorted(
        {
            *people_with_role(room.view, "guardian"),
            *(p for c in added for p in who_answers(room.view, room.view.pathway.consent(c))),
        }
        - {user_id}
    )
    if not added and not family:
        return added  # the family's first: nothing asked yet, nobody there to tell
    await room.audit("consent.askee_added", user=user_id, lane=lane_id, consents=added, told=family)
    if not family:
        return added  # nobody there yet to tell
    lane = room.view.pathway.lane(lane_id)
    text: str = room.t("askees.added", user=mention(user_id), lane=lane.name, by=mention(room.actor))
    text += " " + room.t("askees.not_for_you", people=mentions(family))
    details = None  # the consents they are asked, after the alert and naming nobody: the alert fits a phone
    if added:
        titles = ", ".join(f"{escape(room.view.pathway.consent(c).title)} ({code(c)})" for c in added)
        details = room.t("askees.added_asked", user=mention(user_id), consents=Markdown(titles))
    await safeguards.post(
        room,
        "askee_added",
        "👪 " + text,
        family,
        details=details,
        askee_added={"user": user_id, "lane": lane_id, "consents": added},
    )
    return added


async def lane_left(
    room: CareRoom, user_id: str, before: str | None, after: str | None, states_before: dict[str, ConsentState]
) -> list[str]:
    """`user_id` left an answering lane (moved to `after`, or out of the room with `after` None). Every
    consent whose round asked them and that was not given is asked again of those who remain (a new round);
    the guardians, and the one moved, are told, mentioned; audited. The consents asked again."""
    view = room.view
    again: list[Consent] = []
    for consent in view.pathway.consents:
        current = view.consent_rounds.get(consent.id)
        if current is None or user_id not in current.askees or user_id in answering_lanes_members(view, consent):
            continue
        if states_before.get(consent.id) == "given":
            continue  # decided while they answered: the move changes nothing (announce_answerer_moved tells it)
        again.append(consent)
    if not again:
        return []
    for consent in again:
        await start_round(room, consent, "asked_again")
    view = room.view
    answers = await consents.answers(room.db, room.case.id)
    remaining = sorted({p for c in again for p in who_answers(view, c)})
    told = sorted({*people_with_role(view, "guardian"), *remaining, *([user_id] if after is not None else [])})
    pathway = view.pathway

    def lane_name(lane: str | None) -> str:
        return pathway.lane(lane).name if lane else room.t("team.no_lane")

    # The alert names the consents by their ids (a phone screen's few lines); their titles follow, naming nobody.
    ids = Markdown(", ".join(code(c.id) for c in again))
    titles = ", ".join(f"**{escape(c.title)}** ({code(c.id)})" for c in again)
    text: str
    if after is None:
        text = room.t("askees.left", user=mention(user_id), before=lane_name(before), consents=ids)
    else:
        text = room.t(
            "askees.moved",
            user=mention(user_id),
            before=lane_name(before),
            after=lane_name(after),
            consents=ids,
        )
    text += " " + (
        room.t("askees.asked_again", people=mentions(remaining)) if remaining else room.t("askees.nobody_left")
    )
    await safeguards.post(
        room,
        "consent_asked_again",
        "⚠️ " + text,
        told,
        details=room.t("askees.again_details", consents=Markdown(titles)),
        consent_asked_again={
            "user": user_id,
            "from": before,
            "to": after,
            "consents": [c.id for c in again],
            "asked": remaining,
        },
    )
    for consent in again:
        await room.audit(
            "consent.asked_again",
            consent=consent.id,
            user=user_id,
            previous_lane=before,
            lane=after,
            round=view.consent_rounds[consent.id].number,
            asked=who_answers(view, consent),
        )
        if who_answers(view, consent) and consent_state(view, consent, answers) == "pending":
            await ask(room, consent)
    return [c.id for c in again]


async def next_request(room: CareRoom) -> Consent | None:
    """The consent next in the pathway's order, if it was never asked: what `ask_next` asks."""
    current = next_to_ask(room.view, await consents.answers(room.db, room.case.id))
    if current is None:
        return None
    if any(r.consent_id == current.id for r in await consents.requests(room.db, room.case.id)):
        return None  # asked already: its request is still the one to answer
    return current


async def ask_next(room: CareRoom) -> Consent | None:
    """Ask the family the consent that is next in the pathway's order, if it was never asked (one request at a time)."""
    current = await next_request(room)
    if current is not None:
        await ask(room, current)
    return current


async def ask_person(room: CareRoom, user_id: str) -> list[str]:
    """Ask `user_id` (just put in a guardian or child lane) the consent the family is asked now, if they answer it.

    They could not read a request posted before their invite: they get one of their own,
    held in the outbox until they have joined. The ids asked.
    """
    current = next_to_ask(room.view, await consents.answers(room.db, room.case.id))
    if current is None or user_id not in who_answers(room.view, current):
        return []
    await ask(room, current, notify=[user_id], after_join=user_id)
    return [current.id]


async def edit_requests(room: CareRoom, consent: Consent) -> None:
    """Edit every request of `consent` to show the answers as they are now (queued at the end of the unit of work)."""
    answers = await consents.answers(room.db, room.case.id)
    state = consent_state(room.view, consent, answers)
    fallback = room.t("consent.request_updated", title=consent.title, state=room.t("consent.state_" + state))
    for request in await consents.requests(room.db, room.case.id):
        if request.consent_id == consent.id:
            content = request_content(room, room.view, consent, answers, [])
            content["m.mentions"] = {}
            room.edit_later(
                f"consent-request:{request.outbox_id}", edit_of(outbox.ref(request.outbox_id), content, fallback)
            )


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

    def lane_name(lane: str | None) -> str:
        return pathway.lane(lane).name if lane else room.t("team.no_lane")

    text: str
    if after is None:
        text = room.t("consent.answerer_left", user=mention(user_id), before=lane_name(before), answers=Markdown(given))
    else:
        text = room.t(
            "consent.answerer_moved",
            user=mention(user_id),
            before=lane_name(before),
            after=lane_name(after),
            answers=Markdown(given),
        )
    guardians = people_with_role(view, "guardian")
    told = sorted({*guardians, *([user_id] if after is not None else [])})
    text += " " + room.t("consent.answers_still_count", guardians=mentions(guardians))
    await safeguards.post(
        room,
        "answerer_moved",
        text,
        told,
        answerer_moved={"user": user_id, "from": before, "to": after, "consents": sorted(answers)},
    )
    await room.audit("consent.answerer_moved", user=user_id, previous_lane=before, lane=after, consents=sorted(answers))
    return True


async def answer_edited(
    store: Store, services: Services, room_id: str, event_id: str, sender: str, original: str, new_text: str
) -> bool:
    """Someone edited (`m.replace`) the message their consent answer was recorded from: an edit never
    changes a recorded answer (Element would show "nei (edited)" while the record says yes). Unless the
    edit says the same answer, they are told, mentioned, in reply to it, what stands and how to change it
    or withdraw it; audited. Once per edit event. True when they were told."""
    now = services.clock.now()
    async with store.transaction() as db:
        info, loaded = await load_room(db, room_id, services.pathways)
        if info is None or loaded is None:
            return False
        recorded = await consents.answer_for_event(db, loaded.case.id, original)
        if recorded is None or recorded.user_id != sender:
            return False  # an edit of something else: chat
        catalog = services.catalog
        said = reply_answer(new_text, yes=catalog.words("yes"), no=catalog.words("no")) or _typed_answer(new_text)
        if said == recorded.answer:
            return False  # the same answer, written again (a typo fixed)
        if not await mark_handled(db, event_id, room_id, now):
            return False
        room = CareRoom(db, services, info, loaded, sender, event_id, now)
        try:
            consent = room.view.pathway.consent(recorded.consent_id)
        except KeyError:
            return False
        answers = await consents.answers(db, room.case.id)
        state = consent_state(room.view, consent, answers)
        text: str = room.t(
            "askees.edit_not_an_answer",
            user=mention(sender),
            answer=room.t("consent.answer_" + recorded.answer),
            title=consent.title,
            at=local_text(recorded.at, room.view.pathway),
        )
        text += " " + room.t("askees.edit_how_" + ("withdraw" if recorded.answer == "yes" else "change"), id=consent.id)
        content = alert_content(text, [sender])
        content["m.relates_to"] = reply_relation(original)
        content["homeward.edit_ignored"] = {"consent": consent.id, "answer": recorded.answer, "state": state}
        await room.queue(content)  # a reply to the edited message, for its author: not a room's safeguard
        await room.audit("consent.edit_ignored", consent=consent.id, answer=recorded.answer, edited=original)
    log.info("room=%s event=%s an edit of a consent answer was answered (the answer stands)", room_id, event_id)
    services.wake_outbox()
    return True


def _typed_answer(text: str) -> str | None:
    """The answer word of a typed `!consent yes|no|revoke …` (an edited command), else None."""
    words = text.strip().lstrip("!/").split()
    if len(words) >= 2 and words[0].lower() == "consent" and words[1].lower() in ("yes", "no", "revoke"):
        return words[1].lower()
    return None
