"""Asking the family: a consent request posted, asked again of someone new, edited after each answer,
and the room told when someone who answered moves lane. Each runs inside a care room's unit of work."""

from __future__ import annotations

from homeward.care.consent import answered_by, consent_state, latest_answers, next_to_ask, people_with_role, who_answers
from homeward.care.pathway import Consent
from homeward.matrix.content import alert_content
from homeward.matrix.relations import edit_of
from homeward.messages.consents import request_content
from homeward.store import consents, outbox
from homeward.text import Markdown, code, mention, mentions
from homeward.work.care_room import CareRoom
from homeward.work.polls import post_details, post_poll


async def ask(
    room: CareRoom, consent: Consent, *, notify: list[str] | None = None, after_join: str | None = None
) -> None:
    """Post one request for `consent` (its own message, recorded, so a reply to it answers it), audited.

    `notify`: whom it mentions (default: those asked who have not answered yet). `after_join`:
    hold the message until that person has joined the room, so they can read it.
    """
    view = room.view
    answers = await consents.answers(room.db, room.case.id)
    people = who_answers(view, consent)
    if notify is None:
        latest = latest_answers(answers, consent.id)
        notify = [p for p in people if p not in latest] or people
    content = request_content(room, view, consent, answers, notify)
    if after_join:
        content["homeward.after_join"] = after_join
    await post_details(room, consent, after_join=after_join)  # what to read first: it names nobody
    row = await room.queue(content)
    await consents.add_request(room.db, room.case.id, consent.id, row, room.now)
    await post_poll(room, consent, after_join=after_join)  # the question, answered in one tap
    await room.audit("consent.asked", consent=consent.id, asked=people)


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
    content = alert_content(text, told)
    content["homeward.answerer_moved"] = {"user": user_id, "from": before, "to": after, "consents": sorted(answers)}
    await room.queue(content)
    await room.audit("consent.answerer_moved", user=user_id, previous_lane=before, lane=after, consents=sorted(answers))
    return True
