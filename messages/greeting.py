"""The greeting of someone who joins a care room: a short message addressed to them, and its details.

What the room is for, their lane in plain words, what is open for their lane now, and the
one command they will use most: a guardian (or the young person) answers consent requests
by replying yes or no to them and follows the case with `!status`; a care lane
acknowledges with `!ack`. Nothing in it quotes or points at a message from before their
invite (they cannot read those): an item sent to their lane before they came is listed
with the facts it carries.

Two messages: the greeting names the newcomer in a few lines (a message that names someone
is shown to them whole, red on yellow: on a phone it must fit a screen), and what follows
it names nobody and holds the rest.
"""

from __future__ import annotations

from typing import Any

from homeward.care.arrival import OpenItem, consents_waiting_for, open_for_lane
from homeward.care.case import CaseView, due_at
from homeward.care.consent import Answer
from homeward.care.team import CONSENT_ROLES
from homeward.care.updates import FAMILY_ROLES
from homeward.matrix.content import alert_content, details_content
from homeward.messages.notices import notice_line_facts
from homeward.messages.speaker import Speaker, local_text
from homeward.text import Markdown, code, escape, mention


def greeting_markdown(room: Speaker, view: CaseView, user_id: str, answers: list[Answer]) -> str:
    """The greeting that names the newcomer: a few lines (a message that names someone is shown to them
    whole, red on yellow, on their phone). Who they are here, and the one thing to do next."""
    member = view.members[user_id]
    if member.lane is None:
        return room.t("greeting.short_no_lane", user=mention(user_id), label=view.label)
    lane = view.pathway.lane(member.lane)
    text = room.t("greeting.short", user=mention(user_id), label=view.label, lane=lane.name)
    waiting = consents_waiting_for(view, user_id, answers)
    open_items = open_for_lane(view, member.lane)
    if waiting:
        text += " " + room.t("greeting.next_consent", title=waiting[0].title)
    elif open_items and lane.role not in CONSENT_ROLES:
        text += " " + room.t("greeting.next_open", count=len(open_items))
    else:
        text += " " + room.t("greeting.next_status")
    return text


def greeting_details_markdown(room: Speaker, view: CaseView, user_id: str, answers: list[Answer]) -> str:
    """What follows the greeting, naming nobody: what the room is for, their lane in plain words, what is
    open for their lane now, the consents waiting for them, the command they will use most, and for the
    family how to be notified only of what concerns them."""
    pathway = view.pathway
    member = view.members[user_id]
    lines = [room.t("greeting.about", pathway=pathway.title)]
    if member.lane is None:
        role = "care"
    else:
        lane = pathway.lane(member.lane)
        role = lane.role
        lines += ["", room.t("greeting.lane", lane=lane.name) + " " + room.t(f"greeting.role_{role}")]
        if member.coordinator:
            lines[-1] += " " + room.t("greeting.coordinator")
    waiting = consents_waiting_for(view, user_id, answers)
    if member.lane is not None:
        open_items = open_for_lane(view, member.lane)
        if open_items:
            lines += ["", room.t("greeting.open", lane=lane.name)]
            lines += [_open_line(room, view, entry) for entry in open_items]
        elif not waiting:  # a consent waiting for them is what is open: said next
            lines += ["", room.t("greeting.nothing_open", lane=lane.name)]
    if waiting:
        titles = Markdown(", ".join(f"**{escape(c.title)}**" for c in waiting))
        lines += ["", room.t("greeting.consents_waiting", titles=titles)]
    if role in CONSENT_ROLES:
        lines += ["", room.t("greeting.use_consent")]
    elif role == "family":
        lines += ["", room.t("greeting.use_status")]
    else:
        lines += ["", room.t("greeting.use_ack")]
        # Care staff log in on ward computers: a new login must be verified before it reads or writes here.
        lines += ["", room.t("greeting.new_login")]
    if role in FAMILY_ROLES:
        lines += ["", room.t("greeting.quiet")]
    lines += ["", room.t("greeting.footer")]
    return "\n".join(lines)


def _open_line(room: Speaker, view: CaseView, entry: OpenItem) -> str:
    item = entry.item
    line = f"- ☐ {code(item.id)} {escape(item.title)}"
    if entry.part == "send":
        line += " — " + room.t("greeting.part_send", item=item.id)
    elif entry.part == "acknowledge":
        sent = view.record(item.id).sent_at
        line += " — " + room.t("greeting.part_ack", item=item.id, sent=local_text(sent, view.pathway))
        line += notice_line_facts(room, view, item)  # the notice itself came before their invite
    due = due_at(view, item)
    if due is not None:
        line += " · " + room.t("item.due", when=local_text(due, view.pathway))
    return line


def greeting_content(room: Speaker, view: CaseView, user_id: str, answers: list[Answer]) -> dict[str, Any]:
    """The greeting as message content, addressed to the newcomer (homeward.matrix.content.alert_content)."""
    content = alert_content(greeting_markdown(room, view, user_id, answers), [user_id])
    content["homeward.greeting"] = user_id
    return content


def greeting_details_content(room: Speaker, view: CaseView, user_id: str, answers: list[Answer]) -> dict[str, Any]:
    """What follows the greeting: an m.notice naming nobody, marked with whom it greets."""
    content = details_content(greeting_details_markdown(room, view, user_id, answers))
    content["homeward.greeting_details"] = user_id
    return content


def greeting_contents(room: Speaker, view: CaseView, user_id: str, answers: list[Answer]) -> list[dict[str, Any]]:
    """The greeting and what follows it, in the order they are posted."""
    return [greeting_content(room, view, user_id, answers), greeting_details_content(room, view, user_id, answers)]
