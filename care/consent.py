"""Guardian consent: the state of each consent kind of a case, from the answers given.

Pure. Answers are never changed or deleted; a person's latest answer counts. A
withdrawal (`revoke`) stops what the consent covers at once.

An answer belongs to the person who gave it, for as long as the case exists: only people
asked as guardian (or as the young person) can answer at all, and a refusal or withdrawal
by anyone who ever answered keeps the consent from being given until that same person
changes it — whatever lane they are in now, and even after they left the room. Moving a
refusing guardian to another lane, or out of the room, never turns a "no" into a "yes".
A "yes" counts only while its giver is asked (in a guardian lane, or the child lane).

Who must answer is a per-kind rule of the pathway file:
- all_guardians: every member in a guardian lane must answer yes (the Swedish default:
  guardians decide together);
- any_guardian: one guardian's yes is enough;
- child_or_guardians: the young person (a member in a child lane) may answer for
  themselves, or all guardians do.
A consent marked `covered_by_admission_consent` counts as given when the case has an
admission date and the consent given at admission is given (the Örebro rule: no new
consent for a SIP at discharge after an admission).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from homeward.care.case import CaseView
from homeward.care.pathway import Consent
from homeward.care.refusal import Refusal

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


def people_with_role(view: CaseView, role: str) -> list[str]:
    lanes = {lane.id for lane in view.pathway.lanes_with_role(role)}  # type: ignore[arg-type]
    return sorted(m.user_id for m in view.members.values() if m.lane in lanes)


def who_answers(view: CaseView, consent: Consent) -> list[str]:
    """The members asked for this consent."""
    people = people_with_role(view, "guardian")
    if consent.answered_by == "child_or_guardians":
        people += people_with_role(view, "child")
    return sorted(set(people))


def consent_state(view: CaseView, consent: Consent, answers: list[Answer]) -> ConsentState:
    latest = latest_answers(answers, consent.id)
    guardians = people_with_role(view, "guardian")
    children = people_with_role(view, "child") if consent.answered_by == "child_or_guardians" else []
    # Every refusal or withdrawal counts, by whomever it was given (see the module's docstring).
    if any(a.answer == "revoke" for a in latest.values()):
        return "withdrawn"
    if any(a.answer == "no" for a in latest.values()):
        return "refused"
    said_yes = {user for user, a in latest.items() if a.answer == "yes" and (user in guardians or user in children)}
    if children and said_yes & set(children):
        return "given"
    if consent.answered_by == "any_guardian" and said_yes & set(guardians):
        return "given"
    if guardians and set(guardians) <= said_yes:
        return "given"
    if consent.covered_by_admission_consent and consent.admission_consent and "admission" in view.dates:
        covering = view.pathway.consent(consent.admission_consent)
        if consent_state(view, covering, answers) == "given":
            return "given"
    return "pending"


def require_consent(view: CaseView, answers: list[Answer], covered: str) -> None:
    """Refuse an action (`export`, `plan`, `notice:<id>`) while a consent covering it is not given."""
    for consent in view.pathway.consents:
        if covered in consent.covers:
            state = consent_state(view, consent, answers)
            if state != "given":
                raise Refusal("consent.missing", consent=consent.title, id=consent.id, state=state)


def check_answer(view: CaseView, consent_id: str, user_id: str) -> Consent:
    """The consent a member may answer; a Refusal for an unknown id or someone not asked."""
    try:
        consent = view.pathway.consent(consent_id.lower())
    except KeyError:
        ids = ", ".join(c.id for c in view.pathway.consents)
        raise Refusal("consent.unknown", id=consent_id, ids=ids) from None
    if user_id not in who_answers(view, consent):
        raise Refusal("consent.not_asked", id=consent.id)
    return consent


def answered_by(answers: list[Answer], user_id: str) -> dict[str, Answer]:
    """The latest answer `user_id` gave to each consent they answered, by consent id."""
    found: dict[str, Answer] = {}
    for answer in sorted((a for a in answers if a.user_id == user_id), key=lambda a: a.at):
        found[answer.consent_id] = answer
    return found
