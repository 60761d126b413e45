"""The greeting of someone who joins a care room: one short message addressed to them.

What the room is for, their lane in plain words, what is open for their lane now, and the
one command they will use most: a guardian (or the young person) answers consent requests
by replying yes or no to them and follows the case with `!status`; a care lane
acknowledges with `!ack`. Nothing in it quotes or points at a message from before their
invite (they cannot read those): an item sent to their lane before they came is listed
with the facts it carries.
"""

from __future__ import annotations

from typing import Any

from homeward.care.arrival import OpenItem, consents_waiting_for, open_for_lane
from homeward.care.case import CaseView, due_at
from homeward.care.consent import Answer
from homeward.care.team import CONSENT_ROLES
from homeward.matrix.content import alert_content
from homeward.messages.notices import notice_line_facts
from homeward.messages.speaker import Speaker, local_text
from homeward.text import Markdown, code, escape, mention


def greeting_markdown(room: Speaker, view: CaseView, user_id: str, answers: list[Answer]) -> str:
    pathway = view.pathway
    member = view.members[user_id]
    lines = [room.t("greeting.hello", user=mention(user_id), label=view.label, pathway=pathway.title)]
    if member.lane is None:
        lines += ["", room.t("greeting.no_lane")]
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
