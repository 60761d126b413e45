"""Guardian consent: the state of each consent kind of a case, from the answers given.

Pure. Answers are never changed or deleted; a person's latest answer counts. A
withdrawal (`revoke`) stops what the consent covers at once.

An answer belongs to the person who gave it, for as long as the case exists: only people
asked as guardian (or as the young person) can answer at all, and a refusal or withdrawal
by anyone who ever answered keeps the consent from being given until that same person
changes it — whatever lane they are in now, and even after they left the room. Moving a
refusing guardian to another lane, or out of the room, never turns a "no" into a "yes".
A "yes" counts only while its giver is asked (in a guardian lane, or the child lane).

Who must answer is a per-kind rule of the pathway file, and for `child_or_guardians` a
setting of the case (`CaseView.child_answers`, set by a coordinator; off by default):
- all_guardians: every member in a guardian lane must answer yes (the Swedish default:
  guardians decide together);
- any_guardian: one guardian's yes is enough;
- child_or_guardians: the guardians, as all_guardians — or, when the case says the child
  answers their own consents, the young person (the members of the child lane) instead.
A consent `covered_by` another one (a pathway rule, with its source) is never asked: it is
what the covering consent is (Örebro: the consent given at admission covers the SIP).

Who must answer is fixed when a consent is asked, not recomputed from today's lanes
(`CaseView.consent_rounds`): the members of the answering lanes at the first request, and
anyone put into those lanes since. Moving someone out of those lanes, or out of the room,
never completes a consent: while they are asked and have not said yes, it stays pending.
It is asked again (a new round, `work.consents`) of those who remain, and in a new round
only the answers given since count — a "yes" given while someone else was still to decide
is given again, knowing they no longer do. Someone put into the lanes after the request
went out is asked too, and for `any_guardian` their "yes" alone does not stand in for
those asked at the start.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from homeward.care.case import CaseView, ConsentRound
from homeward.care.pathway import Consent, Role
from homeward.care.refusal import Refusal
from homeward.text import Markdown, Term, mentions

ConsentState = Literal["pending", "given", "refused", "withdrawn"]
AnswerWord = Literal["yes", "no", "revoke"]


@dataclass(frozen=True)
class Answer:
    consent_id: str
    user_id: str
    answer: AnswerWord
    at: datetime


def latest_answers(answers: list[Answer], consent_id: str) -> dict[str, Answer]:
    latest: dict[str, Answer] = {}
    for answer in sorted((a for a in answers if a.consent_id == consent_id), key=lambda a: a.at):
        latest[answer.user_id] = answer
    return latest


def people_with_role(view: CaseView, role: Role) -> list[str]:
    lanes = {lane.id for lane in view.pathway.lanes_with_role(role)}
    return sorted(m.user_id for m in view.members.values() if m.lane in lanes)


def child_answers(view: CaseView, consent: Consent) -> bool:
    """Whether the young person answers this consent themselves (the pathway allows it and the case says so)."""
    return consent.answered_by == "child_or_guardians" and view.child_answers


def covering(view: CaseView, consent: Consent) -> Consent | None:
    """The consent that covers this one by a pathway rule (then this one is never asked), or None."""
    return view.pathway.consent(consent.covered_by.consent) if consent.covered_by else None


def answering_lanes_members(view: CaseView, consent: Consent) -> list[str]:
    """The members of the lanes that answer this consent now (nobody for a covered one): who may answer it."""
    if consent.covered_by is not None:
        return []
    return people_with_role(view, "child" if child_answers(view, consent) else "guardian")


def who_answers(view: CaseView, consent: Consent) -> list[str]:
    """Exactly the people who must answer this consent in this case (nobody for a covered one).

    Once asked: those its current round asked, whoever was put into the answering lanes since,
    and anyone in them now. Never asked yet: the members of the answering lanes.
    """
    now = answering_lanes_members(view, consent)
    current = view.consent_rounds.get(consent.id)
    if current is None or consent.covered_by is not None:
        return now
    return sorted(current.askees | set(now))


def counted_yes(view: CaseView, consent: Consent, answers: list[Answer]) -> set[str]:
    """Who said yes in the consent's current round (its latest answer; in round 1 any answer before it too)."""
    current = view.consent_rounds.get(consent.id)
    since = current.started_at if current is not None and current.number > 1 else None
    return {
        user
        for user, a in latest_answers(answers, consent.id).items()
        if a.answer == "yes" and (since is None or a.at >= since)
    }


def answered_in_round(view: CaseView, consent: Consent, answers: list[Answer], user_id: str) -> Answer | None:
    """`user_id`'s latest answer to the consent if it counts in the current round (else None: asked anew)."""
    mine = latest_answers(answers, consent.id).get(user_id)
    current = view.consent_rounds.get(consent.id)
    if mine is None or current is None or current.number == 1 or mine.at >= current.started_at:
        return mine
    return None


def answers_that_count(view: CaseView, consent: Consent, answers: list[Answer]) -> dict[str, Answer]:
    """Each person's latest answer that counts now: given in the current round, or a refusal or
    withdrawal (which counts whenever it was given). An earlier round's "yes" is not among them."""
    return {
        user: a
        for user, a in latest_answers(answers, consent.id).items()
        if a.answer != "yes" or answered_in_round(view, consent, answers, user) is not None
    }


def consent_state(view: CaseView, consent: Consent, answers: list[Answer]) -> ConsentState:
    latest = latest_answers(answers, consent.id)
    # Every refusal or withdrawal counts, by whomever it was given (see the module's docstring).
    if any(a.answer == "revoke" for a in latest.values()):
        return "withdrawn"
    if any(a.answer == "no" for a in latest.values()):
        return "refused"
    cover = covering(view, consent)
    if cover is not None:
        return consent_state(view, cover, answers)
    must = set(who_answers(view, consent))
    said_yes = counted_yes(view, consent, answers) & must
    if consent.answered_by == "any_guardian":
        return "given" if said_yes & _first_asked(view.consent_rounds.get(consent.id), must) else "pending"
    if must and must <= said_yes:
        return "given"
    return "pending"


def _first_asked(current: ConsentRound | None, must: set[str]) -> set[str]:
    """Whose yes is enough for an `any_guardian` consent: those its round asked at the start (anyone
    asked, when nobody was in the lanes then); before it is asked, anyone who must answer."""
    if current is None:
        return must
    return set(current.asked or current.added)


def require_consent(view: CaseView, answers: list[Answer], covered: str) -> None:
    """Refuse an action (`export`, `plan`, `notice:<id>`) while a consent covering it is not given."""
    for consent in view.pathway.consents:
        if covered in consent.covers:
            state = consent_state(view, consent, answers)
            if state != "given":
                asked = covering(view, consent) or consent  # what the family answers
                raise Refusal("consent.missing", consent=asked.title, id=asked.id, state=Term(f"consent.state_{state}"))


def check_answer(view: CaseView, consent_id: str, user_id: str) -> Consent:
    """The consent a member may answer; a Refusal for an unknown id, a covered consent, or someone not asked."""
    try:
        consent = view.pathway.consent(consent_id.lower())
    except KeyError:
        ids = ", ".join(c.id for c in view.pathway.consents if c.covered_by is None)
        raise Refusal("consent.unknown", id=consent_id, ids=ids) from None
    cover = covering(view, consent)
    if cover is not None:
        raise Refusal("consent.covered", title=consent.title, covering=cover.title, id=cover.id)
    if user_id not in answering_lanes_members(view, consent):
        people = answering_lanes_members(view, consent)
        raise Refusal(
            "consent.not_asked_child" if child_answers(view, consent) else "consent.not_asked",
            id=consent.id,
            people=mentions(people) if people else Markdown("—"),
        )
    return consent


def next_to_ask(view: CaseView, answers: list[Answer]) -> Consent | None:
    """The one consent the family is asked now: the first in the pathway's order still pending and askable."""
    for consent in view.pathway.consents:
        if who_answers(view, consent) and consent_state(view, consent, answers) == "pending":
            return consent
    return None


def reply_answer(text: str, yes: Collection[str], no: Collection[str]) -> AnswerWord | None:
    """The answer in a reply such as "Ja", "nej!" or " YES. "; None for anything else (a question, a sentence).

    `yes` and `no`: the lower-case words that mean each, in the rooms' languages or English (the
    catalogs' `words.yes` and `words.no`, which the caller reads: care knows no catalog)."""
    word = text.strip().strip(".,;:!?¡¿…\"'«»“”„ \t\n").lower()
    return "yes" if word in yes else "no" if word in no else None


def answered_by(answers: list[Answer], user_id: str) -> dict[str, Answer]:
    """The latest answer `user_id` gave to each consent they answered, by consent id."""
    found: dict[str, Answer] = {}
    for answer in sorted((a for a in answers if a.user_id == user_id), key=lambda a: a.at):
        found[answer.consent_id] = answer
    return found
