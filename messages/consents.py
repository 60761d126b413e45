"""A consent request as the family reads it, in three messages: the details, the request, and the question.

A message that names someone is shown to them whole, red on yellow, and on a phone the
explanation of a consent fills a screen and more. So the request is said in three parts:

- the details (an `m.notice` naming nobody): why, to whom, what is agreed to, who must
  answer, and the commands that do the same;
- the request (an `m.text` naming exactly those who must answer, a few lines): the title and
  how to answer — a tap in the question below it, or "ja"/"nej" in reply. After each answer
  it is edited to show the answers and how to change them;
- the question, a poll (`m.poll.start`, which Element and Element X show as buttons) with
  Ja and Nej (`work.polls`).

A reply of "ja" or "nej" to any of the three answers the consent; so does a vote.
"""

from __future__ import annotations

from typing import Any

from homeward.care.case import CaseView
from homeward.care.consent import Answer, answers_that_count, child_answers, consent_state, who_answers
from homeward.care.pathway import Consent
from homeward.matrix.content import alert_content, details_content, to_text
from homeward.messages.speaker import Speaker, local_text
from homeward.text import Markdown, escape, mention, mentions

#: The poll's answers: their ids are what a vote carries (`m.selections` / the unstable `answers`).
POLL_YES, POLL_NO = "yes", "no"


def _rule(room: Speaker, view: CaseView, consent: Consent, people: list[str]) -> str:
    """Who must answer, for this case: said only when it is more than the people named."""
    if child_answers(view, consent):
        return room.t("consent.rule_child")
    if len(people) < 2:
        return ""
    return room.t(
        "consent.rule_any_guardian" if consent.answered_by == "any_guardian" else "consent.rule_all_guardians"
    )


def details_markdown(room: Speaker, view: CaseView, consent: Consent) -> str:
    """What the family reads before answering: purpose and receivers first, the explanation, who must
    answer (when it is more than one person), and the commands that answer too."""
    pathway = view.pathway
    head = [f"🔏 **{escape(consent.title)}**"]
    if consent.purpose:
        head.append(room.t("consent.purpose", purpose=consent.purpose))
    if consent.receivers:
        head.append(room.t("consent.receivers", lanes=", ".join(pathway.lane(lane).name for lane in consent.receivers)))
    parts = ["\n".join(head), escape(consent.text)]
    rule = _rule(room, view, consent, who_answers(view, consent))
    if rule:
        parts.append(rule)
    parts.append(room.t("consent.how_command", id=consent.id))
    parts.append(room.t("consent.details_intro"))
    return "\n\n".join(parts)


def request_markdown(room: Speaker, view: CaseView, consent: Consent, answers: list[Answer]) -> str:
    """The request as it reads now, short: the title and who answers how; once answered, who answered
    what and when, and how to withdraw or change it."""
    pathway = view.pathway
    parts = []
    latest = answers_that_count(view, consent, answers)  # asked again: an earlier round's "yes" is given anew
    state = consent_state(view, consent, answers)
    people = who_answers(view, consent)
    if state == "pending":
        waiting = [p for p in people if p not in latest] or people
        parts.append(f"🔏 **{escape(consent.title)}** — " + room.t("consent.how_reply", people=mentions(waiting)))
    else:
        parts.append(
            f"🔏 **{escape(consent.title)}** — "
            + room.t("consent.now_" + state)
            + " "
            + room.t("consent.change_" + state, id=consent.id)
        )
    if latest:
        given = "; ".join(
            f"{mention(a.user_id)}: **{room.t('consent.answer_' + a.answer)}** ({local_text(a.at, pathway)})"
            for a in sorted(latest.values(), key=lambda a: a.at)
        )
        parts.append(room.t("consent.answers_so_far", answers=Markdown(given)))
    return "\n\n".join(parts)


def consent_details_content(room: Speaker, view: CaseView, consent: Consent) -> dict[str, Any]:
    """The details: an m.notice that names nobody (it notifies nobody), marked with its consent."""
    content = details_content(details_markdown(room, view, consent))
    content["homeward.consent_details"] = consent.id
    return content


def request_content(
    room: Speaker, view: CaseView, consent: Consent, answers: list[Answer], notify: list[str]
) -> dict[str, Any]:
    """The request message: it notifies `notify` (`matrix.content.alert_content`), marked with its consent."""
    content = alert_content(request_markdown(room, view, consent, answers), notify)
    content["homeward.consent_request"] = consent.id
    return content


def poll_content(room: Speaker, consent: Consent) -> dict[str, Any]:
    """The question as a poll with the answers Ja and Nej (`org.matrix.msc3381.poll.start`).

    Element Web 1.11 reads the unstable MSC3381 keys, clients of Matrix 1.7 and later the stable
    `m.poll`; the content carries both. Undisclosed: nobody sees a tally (a vote from someone who
    is not asked does not count, and the request shows the answers that do)."""
    question = to_text(room.t("consent.poll_question", title=consent.title))
    yes, no = to_text(room.t("consent.poll_yes")), to_text(room.t("consent.poll_no"))
    fallback = to_text(room.t("consent.poll_fallback", title=consent.title))
    return {
        "org.matrix.msc3381.poll.start": {
            "question": {"org.matrix.msc1767.text": question, "body": question, "msgtype": "m.text"},
            "kind": "org.matrix.msc3381.poll.undisclosed",
            "max_selections": 1,
            "answers": [
                {"id": POLL_YES, "org.matrix.msc1767.text": yes},
                {"id": POLL_NO, "org.matrix.msc1767.text": no},
            ],
        },
        "m.poll": {
            "question": {"m.text": [{"body": question}]},
            "kind": "m.poll.undisclosed",
            "max_selections": 1,
            "answers": [
                {"m.id": POLL_YES, "m.text": [{"body": yes}]},
                {"m.id": POLL_NO, "m.text": [{"body": no}]},
            ],
        },
        "org.matrix.msc1767.text": fallback,
        "m.text": [{"body": fallback}],
        "body": fallback,
        "m.mentions": {},
        "homeward.consent_poll": consent.id,
    }
