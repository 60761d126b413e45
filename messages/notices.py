"""A notice as the room reads it: what it carries, who sent it, what each receiver does, and by when.

A receiver should need nothing else: the dates the notice carries (pathway data, `carries`;
a date not set yet is said to be missing), the sending lane and person, the source's words
for each receiving lane, and the moment by which they must acknowledge (`ack_due`). `!send`
posts it; the greeting of someone who joins after it was sent repeats its facts in one line,
since a message from before their invite is not theirs to read.

Two messages: what the notice says (naming nobody), then the notice itself, naming those who
must acknowledge it in a few lines (a message that names someone is shown to them whole, red
on yellow: on a phone it must fit a screen). A ✅ on the notice acknowledges it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from homeward.care.arrival import carried_dates, empty_lanes
from homeward.care.case import CaseView, ack_due_at
from homeward.care.pathway import Item
from homeward.matrix.content import alert_content, details_content
from homeward.messages.speaker import Speaker, local_text
from homeward.text import Markdown, escape, mention, mentions


def fact_lines(room: Speaker, view: CaseView, item: Item) -> list[str]:
    """One Markdown line per date the notice carries: its value, or that it is not set yet."""
    lines = []
    for named, value in carried_dates(view, item):
        if value is None:
            lines.append(room.t("send.fact_unset", label=named.label, date=named.id))
        else:
            lines.append(room.t("send.fact", label=named.label, value=local_text(value, view.pathway)))
    return lines


def receivers(view: CaseView, item: Item) -> list[str]:
    """The people who must acknowledge: everyone in the receiving lanes."""
    return [user for lane in item.recipients for user in view.members_of(lane)]


def notice_details(
    room: Speaker, view: CaseView, item: Item, *, sender: str, sent_at: datetime, reactions: bool
) -> dict[str, Any]:
    """What the notice says, naming nobody (posted just before it): who sent it to whom, the dates it
    carries, the source's text and what each receiving lane does."""
    del sent_at, reactions  # said in the notice itself
    pathway = view.pathway
    lanes_to = Markdown(", ".join(f"**{escape(pathway.lane(lane).name)}**" for lane in item.recipients))
    lines = [
        f"📨 **{escape(item.title)}** — "
        + room.t(
            "send.from_to", sender=pathway.lane(item.sender or "").name, person=mention(sender), receivers=lanes_to
        ),
    ]
    facts = fact_lines(room, view, item)
    if facts:
        lines += [""] + [f"- {fact}" for fact in facts]
    lines += ["", escape(item.text)]
    for lane in item.recipients:
        todo = item.recipient_text.get(lane)
        if todo:
            lines += ["", f"**{escape(pathway.lane(lane).name)}:** {escape(todo)}"]
    empty = [lane for lane in item.recipients if lane in empty_lanes(view)]
    if empty:
        lines += ["", room.t("send.nobody_yet", lanes=", ".join(pathway.lane(lane).name for lane in empty))]
    content = details_content("\n".join(lines))
    content["homeward.notice_details"] = item.id
    return content


def notice_message(
    room: Speaker, view: CaseView, item: Item, *, sender: str, sent_at: datetime, reactions: bool
) -> dict[str, Any]:
    """The notice, addressed to everyone who must acknowledge it, in a few lines: what, by when, how.

    What it says follows it from `notice_details`, posted just before it."""
    pathway = view.pathway
    people = receivers(view, item)
    due = local_text(ack_due_at(view, item, sent_at), pathway)
    how = room.t("send.ack_by", when=due)
    if people:
        how += " " + room.t("send.how_to_ack", item=item.id, people=mentions(people))
        if reactions:
            how += " " + room.t("send.or_react")
    content = alert_content(f"📨 **{escape(item.title)}** — " + how, people)
    content["homeward.notice"] = item.id
    return content


def notice_line_facts(room: Speaker, view: CaseView, item: Item) -> str:
    """The facts of a notice in one line.

    For someone who cannot read the notice itself (it came before their invite).
    """
    facts = fact_lines(room, view, item)
    return f" ({'; '.join(facts)})" if facts else ""
