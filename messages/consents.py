"""A consent request as the family reads it: why, to whom, what is agreed to, and who answers how."""

from __future__ import annotations

from typing import Any

from homeward.care.case import CaseView
from homeward.care.consent import Answer, answers_that_count, child_answers, consent_state, who_answers
from homeward.care.pathway import Consent
from homeward.matrix.content import alert_content
from homeward.messages.speaker import Speaker, local_text
from homeward.text import Markdown, escape, mention, mentions


def _rule(room: Speaker, view: CaseView, consent: Consent, people: list[str]) -> str:
    """Who must answer, for this case: said only when it is more than the people named."""
    if child_answers(view, consent):
        return room.t("consent.rule_child")
    if len(people) < 2:
        return ""
    return room.t(
        "consent.rule_any_guardian" if consent.answered_by == "any_guardian" else "consent.rule_all_guardians"
    )


def request_markdown(room: Speaker, view: CaseView, consent: Consent, answers: list[Answer]) -> str:
    """The request as it reads now: purpose and receivers first, the explanation, then who answers and how,
    or — once answered — who answered what and when, and how to withdraw or change it."""
    pathway = view.pathway
    head = [f"🔏 **{escape(consent.title)}**"]
    if consent.purpose:
        head.append(room.t("consent.purpose", purpose=consent.purpose))
    if consent.receivers:
        head.append(room.t("consent.receivers", lanes=", ".join(pathway.lane(lane).name for lane in consent.receivers)))
    parts = ["\n".join(head), escape(consent.text)]
    latest = answers_that_count(view, consent, answers)  # asked again: an earlier round's "yes" is given anew
    if latest:
        given = "; ".join(
            f"{mention(a.user_id)}: **{room.t('consent.answer_' + a.answer)}** ({local_text(a.at, pathway)})"
            for a in sorted(latest.values(), key=lambda a: a.at)
        )
        parts.append(room.t("consent.answers_so_far", answers=Markdown(given)))
    state = consent_state(view, consent, answers)
    people = who_answers(view, consent)
    if state == "pending":
        waiting = [p for p in people if p not in latest] or people
        how = room.t("consent.how_reply", people=mentions(waiting))
        rule = _rule(room, view, consent, people)
        parts.append(how + (" " + rule if rule else ""))
        parts.append(room.t("consent.how_command", id=consent.id))
    else:
        parts.append(room.t("consent.now_" + state) + " " + room.t("consent.change_" + state, id=consent.id))
    return "\n\n".join(parts)


def request_content(
    room: Speaker, view: CaseView, consent: Consent, answers: list[Answer], notify: list[str]
) -> dict[str, Any]:
    """The request message: it notifies `notify` (`matrix.content.alert_content`), marked with its consent."""
    content = alert_content(request_markdown(room, view, consent, answers), notify)
    content["homeward.consent_request"] = consent.id
    return content
