"""Specification of the review at a case's end and of `!stats review` (care/review.py, messages/review.py).

Örebro cases built by hand, as the store would load them: admitted Monday 30 November 2026
10:00, the Inskrivningsmeddelande due Tuesday 10:00, to be acknowledged by the next
working day 16:00 after it was sent.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from homeward.care.case import Ack, CaseView, GivenReason, ItemRecord, Membership
from homeward.care.pathway import Pathway, default_pathways_dir, load_pathway, load_pathways
from homeward.care.review import (
    ClosedCase,
    case_review,
    pathway_diff,
    pathway_review,
    pathway_review_json,
    propose,
    review_json,
)
from homeward.messages.catalog import Catalog
from homeward.messages.review import review_markdown, stats_review_markdown

STOCKHOLM = ZoneInfo("Europe/Stockholm")
OSLO = ZoneInfo("Europe/Oslo")
CATALOG = Catalog()


def se(day: int, hour: int = 0, month: int = 12) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=STOCKHOLM)


@pytest.fixture(scope="module")
def pathways() -> dict[str, Pathway]:
    return load_pathways(default_pathways_dir())


def speaker(language: str, now: datetime) -> SimpleNamespace:
    return SimpleNamespace(now=now, t=lambda key, **values: CATALOG.t(language, key, **values))


def orebro_case(
    pathway: Pathway, n: int = 0, *, ack_late_days: float = 1.0, reason: str | None = "personal"
) -> CaseView:
    """Case n: sent on time; the kommun acknowledges `ack_late_days` after its time, giving `reason`."""
    admitted = se(30, 10, month=11) + timedelta(days=7 * n)
    view = CaseView(
        pathway=pathway,
        label=f"Hemlig{n}",
        phase_id="planering",
        dates={"admission": admitted},
        members={"@k:x": Membership("@k:x", "kommun", False)},
        records={},
    )
    sent = admitted + timedelta(hours=2)
    due = view.calendar().add_working_days(sent.astimezone(STOCKHOLM).date(), 1)
    ack_due = datetime(due.year, due.month, due.day, 16, tzinfo=STOCKHOLM)
    view.records["inskrivningsmeddelande"] = ItemRecord(
        sent_at=sent,
        acks=[
            Ack("kommun", "@k:x", ack_due + timedelta(days=ack_late_days)),
            Ack("oppenvard", "@o:x", sent + timedelta(hours=3)),
        ],
    )
    if reason is not None:
        view.reasons[("inskrivningsmeddelande", "kommun")] = GivenReason(
            "inskrivningsmeddelande", "kommun", reason, pathway.reason(reason).code, "@k:x", ack_due
        )
    return view


def test_the_review_of_a_case_has_its_phases_late_steps_with_reasons_slowest_receipts_and_clock_cost(
    pathways: dict[str, Pathway],
) -> None:
    pathway = pathways["orebro"]
    view = orebro_case(pathway, ack_late_days=2.0)
    ready = se(7, 10)
    view.records["utskrivningsklarmeddelande"] = ItemRecord(sent_at=ready)  # Monday: pays from Thursday
    closed = se(12, 10)  # a Saturday: Thursday and Friday are paid
    history = [("identifiering", se(30, 9, month=11)), ("planering", se(2, 12))]
    review = case_review(view, history, se(30, 9, month=11), closed)
    shown = review_json(review)
    assert [p["id"] for p in shown["phases"]] == ["identifiering", "planering"]
    first = review.phases[0]
    assert first.expected_by is not None and first.days == pytest.approx(2.125)
    late = {(s.item_id, s.lane): s for s in review.late}
    receipt = late[("inskrivningsmeddelande", "kommun")]
    assert (receipt.step, receipt.days, receipt.reason, receipt.code) == ("ack", 2.0, "personal", "staff")
    assert review.slowest[0].item_id == "inskrivningsmeddelande" and review.slowest[0].lane == "kommun"
    (clock,) = review.clocks
    assert (clock.days, clock.paid_days, clock.amount, clock.years, clock.estimated) == (5, 2, 18600.0, (2022,), True)
    text = review_markdown(speaker("sv", closed), review, pathway)
    assert "Väntar på personal i kommunen" in text and "2 dagar för sent" in text
    assert "18\u00a0600 SEK" in text and "uppskattning med beloppet för 2022" in text


def test_a_step_not_done_at_the_closing_is_named_as_such(pathways: dict[str, Pathway]) -> None:
    pathway = pathways["orebro"]
    view = orebro_case(pathway, reason=None)
    view.records["inskrivningsmeddelande"].acks.pop()  # öppenvård never acknowledged
    review = case_review(view, [("identifiering", se(30, 9, month=11))], se(30, 9, month=11), se(4, 12))
    open_step = next(s for s in review.late if s.lane == "oppenvard")
    assert open_step.done is None
    text = review_markdown(speaker("en", se(4, 12)), review, pathway)
    assert "not done at the closing" in text and "no reason given" in text


def closed_cases(pathway: Pathway, count: int, **kwargs) -> list[ClosedCase]:
    return [
        ClosedCase(orebro_case(pathway, n, **kwargs), se(30, 12, month=11) + timedelta(days=7 * n + 20))
        for n in range(count)
    ]


def test_the_steps_most_often_late_are_named_with_the_reasons_given_in_five_cases_or_more(
    pathways: dict[str, Pathway],
) -> None:
    pathway = pathways["orebro"]
    found = closed_cases(pathway, 6)
    found[5] = ClosedCase(orebro_case(pathway, 5, reason="beslut"), found[5].closed_at)
    review = pathway_review(pathway, found, se(1).date())
    step = review.steps[0]
    assert (step.item_id, step.lane, step.step, step.late.part, step.late.whole) == (
        "inskrivningsmeddelande",
        "kommun",
        "ack",
        6,
        6,
    )
    assert step.reasons == (("personal", "Väntar på personal i kommunen", 5),) and step.other_reasons
    assert "beslut" not in str(pathway_review_json(review))  # one case: not named


def test_fewer_than_five_closed_cases_say_nothing(pathways: dict[str, Pathway]) -> None:
    review = pathway_review(pathways["orebro"], closed_cases(pathways["orebro"], 4), se(1).date())
    assert review.suppressed and pathway_review_json(review) == {"pathway": "orebro", "cases": "< 5", "steps": []}
    text = stats_review_markdown(speaker("en", se(1)), review, "all cases", None, "en")
    assert "fewer than 5" in text and "inskrivningsmeddelande" not in text


def test_a_late_receipt_proposes_its_own_time_to_acknowledge_as_a_diff_that_still_loads(
    pathways: dict[str, Pathway], tmp_path: Path
) -> None:
    pathway = pathways["orebro"]
    review = pathway_review(pathway, closed_cases(pathway, 6, ack_late_days=2.0), se(1).date())
    proposal = review.steps[0].proposal
    assert proposal is not None and proposal.adds is not None
    assert (proposal.field, proposal.old_offset, proposal.new_offset) == ("ack_due", 1, 3)  # 2 days ≈ 2 working days
    before = (default_pathways_dir() / "orebro.yaml").read_text(encoding="utf-8")
    after = propose(before, [proposal])
    diff = pathway_diff("orebro", before, after)
    added = [line for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert all(not line.startswith("-") or line.startswith("---") for line in diff.splitlines())  # only additions
    assert "+        ack_due:" in added and "+          offset: 3" in added
    assert any("late in 6 of 6" in line for line in added)
    (tmp_path / "orebro.yaml").write_text(after, encoding="utf-8")
    changed = load_pathway(tmp_path / "orebro.yaml")
    ack_due = changed.item("inskrivningsmeddelande").ack_due
    assert ack_due is not None and ack_due.offset == 3 and ack_due.unit == "working_days"
    assert changed.model_copy(update={"phases": pathway.phases}) == pathway  # nothing else changed


def test_a_deadline_set_by_law_is_not_moved_only_the_evidence_is_written_beside_it(
    pathways: dict[str, Pathway],
) -> None:
    pathway = pathways["orebro"]
    found = []
    for n in range(6):
        view = orebro_case(pathway, n)
        record = view.records["inskrivningsmeddelande"]
        assert record.sent_at is not None
        record.sent_at += timedelta(days=1)  # sent 26 hours after admission: the law says 24
        found.append(ClosedCase(view, se(30, 12, month=11) + timedelta(days=7 * n + 20)))
    review = pathway_review(pathway, found, se(1).date())
    sending = next(s for s in review.steps if s.step == "send")
    assert sending.proposal is not None and sending.proposal.new_offset is None
    before = (default_pathways_dir() / "orebro.yaml").read_text(encoding="utf-8")
    diff = pathway_diff("orebro", before, propose(before, [sending.proposal]))
    assert "set by law" in diff and "+          offset" not in diff and "-          offset: 24" not in diff


def test_a_recommended_deadline_is_moved_by_the_median_lateness(pathways: dict[str, Pathway], tmp_path: Path) -> None:
    pathway = pathways["sthf"]
    found = []
    for n in range(5):
        opened = datetime(2026, 11, 2 + n, 9, tzinfo=OSLO)
        view = CaseView(
            pathway=pathway,
            label=f"N{n}",
            phase_id="utstyr-og-plan",
            dates={"case_start": opened.date()},
            members={},
            records={"planleggingsmote-1": ItemRecord(acks=[Ack("kommunen", "@k:x", opened + timedelta(days=17 + n))])},
        )
        found.append(ClosedCase(view, opened + timedelta(days=40)))
    review = pathway_review(pathway, found, se(20).date())
    meeting = next(s for s in review.steps if s.item_id == "planleggingsmote-1")
    assert meeting.proposal is not None and (meeting.proposal.old_offset, meeting.proposal.new_offset) == (14, 19)
    before = (default_pathways_dir() / "sthf.yaml").read_text(encoding="utf-8")
    after = propose(before, [meeting.proposal])
    diff = pathway_diff("sthf", before, after)
    assert "-          offset: 14" in diff and "+          offset: 19" in diff
    (tmp_path / "sthf.yaml").write_text(after, encoding="utf-8")
    assert load_pathway(tmp_path / "sthf.yaml").item("planleggingsmote-1").due.offset == 19  # type: ignore[union-attr]
