"""The review of a case at its end, and `!stats review`, as the room reads them.

The figures are decided in `care.review`; this only words them in the room's language:
days with one decimal (a whole number without), how late in hours under a day, "1 day" and "2 days", the pathway's own
names for its phases, lanes and reasons, ids as code.
"""

from __future__ import annotations

from typing import Any

from homeward.care.pathway import Pathway
from homeward.care.review import CaseReview, PathwayReview, StepLate, review_json
from homeward.matrix.content import notice_content
from homeward.messages.speaker import Speaker, local_number, local_text
from homeward.text import Markdown, code, escape


def days_text(room: Speaker, language: str, days: float) -> str:
    """ "2,5 days", "1 day": one decimal unless the value is whole."""
    rounded = round(days, 1)
    shown = local_number(rounded, language, 0 if rounded == int(rounded) else 1)
    return room.t("review.days", n=shown)  # "1 day", "1,5 days", "2 days"


def late_text(room: Speaker, language: str, days: float) -> str:
    """How late: "5 tim" under a day ("0,2 dagar" says little to a nurse), "1,5 dagar" from there."""
    return _duration(room, language, days * 24) if days < 1 else days_text(room, language, days)


def review_markdown(room: Speaker, review: CaseReview, pathway: Pathway, *, message: bool = True) -> str:
    """The review as one message: phases, late steps and why, slowest acknowledgements, days after ready.

    `message` False: without the title line and the footer (the case PDF has its own heading)."""
    language = review.language
    title = room.t(
        "review.title",
        label=review.label,
        when=local_text(review.closed_at, pathway),
        days=days_text(room, language, review.days),
    )
    parts = [title] if message else []
    phase_lines = []
    for phase in review.phases:
        days = days_text(room, language, phase.days)
        if phase.expected_by is None or phase.over_days is None:
            line = room.t("review.phase_no_deadline", phase=phase.title, days=days)
        elif phase.over_days > 0:
            line = room.t(
                "review.phase_late",
                phase=phase.title,
                days=days,
                over=late_text(room, language, phase.over_days),
                expected=local_text(phase.expected_by, pathway),
            )
        else:
            line = room.t(
                "review.phase_in_time", phase=phase.title, days=days, expected=local_text(phase.expected_by, pathway)
            )
        phase_lines.append(f"- {line}")
    parts.append(room.t("review.phases") + "\n\n" + "\n".join(phase_lines))
    if review.late:
        lines = []
        for step in review.late:
            values = {
                "id": step.item_id,
                "title": step.title,
                "lane": step.lane_name,
                "days": late_text(room, language, step.days),
                "reason": step.reason_label or room.t("review.no_reason"),
            }
            if step.done is None:
                lines.append("- " + room.t("review.late_open", **values))
            else:
                lines.append("- " + room.t("review.late_line", step=room.t(f"review.step_{step.step}"), **values))
        parts.append(room.t("review.late", count=len(review.late)) + "\n\n" + "\n".join(lines))
    else:
        parts.append(room.t("review.late_none"))
    if review.slowest:
        lines = [
            "- "
            + room.t(
                "review.ack_line",
                id=ack.item_id,
                title=ack.title,
                lane=ack.lane_name,
                hours=_duration(room, language, ack.hours),
            )
            for ack in review.slowest
        ]
        parts.append(room.t("review.slowest") + "\n\n" + "\n".join(lines))
    clock_lines = []
    for clock in review.clocks:
        if clock.days is None:
            clock_lines.append("- " + room.t("review.clock_not_started", label=clock.label))
            continue
        days = days_text(room, language, clock.days)
        paid = days_text(room, language, clock.paid_days)
        if clock.amount is None or clock.currency is None:
            clock_lines.append("- " + room.t("review.clock_no_rate", label=clock.label, days=days, paid=paid))
            continue
        years = ", ".join(str(year) for year in clock.years)
        rate = room.t("review.rate_estimate" if clock.estimated else "review.rate", years=years)
        clock_lines.append(
            "- "
            + room.t(
                "review.clock_cost",
                label=clock.label,
                days=days,
                paid=local_number(clock.paid_days, language),
                unit=clock.unit or "",
                amount=local_number(clock.amount, language),
                currency=clock.currency,
                rate=rate,
            )
        )
    if clock_lines:
        parts.append(room.t("review.clocks") + "\n\n" + "\n".join(clock_lines))
    if message:
        parts.append(room.t("review.footer"))
    return "\n\n".join(parts)


def _duration(room: Speaker, language: str, hours: float) -> str:
    """ "35 min" under an hour, "5,5 h" from there ("17 h": a whole number without its decimal)."""
    if hours < 1:
        return room.t("time.minutes", n=max(round(hours * 60), 1))
    rounded = round(hours, 1)
    return room.t("time.hours", n=local_number(rounded, language, 0 if rounded == int(rounded) else 1))


def review_content(room: Speaker, review: CaseReview, pathway: Pathway) -> dict[str, Any]:
    """The review as a notice, with its figures as data (`homeward.review`)."""
    content = notice_content(review_markdown(room, review, pathway))
    content["homeward.review"] = review_json(review)
    return content


def stats_review_markdown(
    room: Speaker, review: PathwayReview, period: str, diff_name: str | None, language: str
) -> str:
    """`!stats review`: the steps most often late, how late and why, and where the proposed change is
    (numbers written as `language` writes them: the language of the chat it is asked in)."""
    if review.suppressed:
        return room.t("review.stats_few", pathway=review.pathway_title, period=period)
    parts = [room.t("review.stats_title", pathway=review.pathway_title, cases=review.cases, period=period)]
    if not review.steps:
        parts.append(room.t("review.stats_none", cases=review.cases))
        return "\n\n".join(parts)
    parts.append("\n".join("- " + _step_line(room, language, step) for step in review.steps))
    if diff_name is not None:
        parts.append(room.t("review.stats_proposal", name=code(diff_name)))
    else:
        parts.append(room.t("review.stats_no_proposal"))
    return "\n\n".join(parts)


def _step_line(room: Speaker, language: str, step: StepLate) -> str:
    reasons = [
        room.t("review.stats_reason", reason=label or room.t("review.no_reason"), count=n)
        for _, label, n in step.reasons
    ]
    if step.other_reasons:
        reasons.append(room.t("review.stats_reasons_hidden"))
    return room.t(
        "review.stats_line",
        id=step.item_id,
        title=step.title,
        lane=step.lane_name,
        step=room.t(f"review.step_{step.step}"),
        part=step.late.part,
        whole=step.late.whole,
        days=days_text(room, language, step.days.median or 0.0),
        reasons=Markdown("; ".join(escape(r) if not isinstance(r, Markdown) else r for r in reasons))
        if reasons
        else room.t("review.stats_no_reasons"),
    )
