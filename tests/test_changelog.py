"""Specification of what the plan and the minutes share (care/changelog.py): the change record, its
stored form, the version each change follows, and folding."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from homeward.care.careplan import CarePlan, CarePlanChange
from homeward.care.changelog import fold, follows, next_change
from homeward.care.minutes import MinutesChange
from homeward.clock import time_zone

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_a_stored_record_reads_back_each_field_as_its_type_and_what_it_lacks_as_the_default() -> None:
    change = CarePlanChange.from_record(
        {"version": "3", "kind": "followup_set", "at": T0.isoformat(), "by": "@k:x", "day": "2027-01-15", "end": ""}
    )
    assert change == CarePlanChange(3, "followup_set", T0, "@k:x", day=date(2027, 1, 15))
    minutes = MinutesChange(1, "opened", T0, "@k:x", start=T0, duration=timedelta(hours=1), topics=("a", "b"))
    assert minutes.to_record()["duration"] == 3600 and minutes.to_record()["topics"] == ["a", "b"]
    assert MinutesChange.from_record(minutes.to_record()) == minutes
    with pytest.raises(KeyError):
        CarePlanChange.from_record({"version": 1, "kind": "goal_added", "at": T0.isoformat()})  # by whom?


def test_a_change_follows_the_version_before_it_and_needs_an_aware_time() -> None:
    first = next_change(CarePlanChange, 0, "goal_added", "@k:x", T0, ref="g1", text="Hemma")
    assert (first.version, first.ref) == (1, "g1")
    follows("plan", 0, first)
    with pytest.raises(ValueError, match="does not follow"):
        follows("plan", 1, first)
    with pytest.raises(ValueError, match="aware"):
        next_change(CarePlanChange, 0, "goal_added", "@k:x", datetime(2026, 12, 1, 9), ref="g1", text="Hemma")


def test_folding_applies_the_changes_in_version_order() -> None:
    seen: list[int] = []

    def apply(plan: CarePlan, change: CarePlanChange) -> CarePlan:
        seen.append(change.version)
        return plan

    changes = [CarePlanChange(v, "followup_set", T0, "@k:x", day=date(2027, 1, v)) for v in (2, 3, 1)]
    assert fold(changes, apply, CarePlan()) == CarePlan()
    assert seen == [1, 2, 3]


@pytest.mark.parametrize("name", ["Europe/Atlantis", "", "../etc/passwd", None])
def test_an_unknown_time_zone_is_one_value_error_naming_it(name: str | None) -> None:
    with pytest.raises(ValueError, match="unknown IANA time zone"):
        time_zone(name)  # type: ignore[arg-type]
    assert time_zone("Europe/Oslo").key == "Europe/Oslo"
