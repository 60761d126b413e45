"""A vote in a consent request's poll, as an answer: pure.

The poll has two answers, Ja and Nej. A vote is the voter's answer to the consent, with
one rule a typed command does not need: a vote changed from yes to no withdraws the
consent (`revoke`), for a "no" after a "yes" is a withdrawal, whatever button says it.
A vote for what the voter answered already changes nothing (the handler says so).
"""

from __future__ import annotations

from typing import Literal

from homeward.care.consent import Answer, AnswerWord

Selection = Literal["yes", "no"]


def vote_answer(selection: Selection, latest: Answer | None) -> AnswerWord:
    """What a vote records, given the voter's latest answer to the consent (None: they never answered)."""
    if selection == "yes":
        return "yes"
    if latest is None:
        return "no"
    if latest.answer == "yes":
        return "revoke"
    return latest.answer  # a "no" again after a refusal or a withdrawal: the same answer, nothing changes
