"""Specification of the PDF export's rate limit (commands/export_limit.py): per user and command, a sliding window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from homeward.commands.export_limit import PDF, RateLimit

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_the_limit_allows_count_uses_within_the_window_and_says_when_the_next_one_may_come() -> None:
    limit = RateLimit(2, timedelta(minutes=10))
    assert limit.next_allowed("@kari:x", PDF, T0) is None
    limit.record("@kari:x", PDF, T0)
    limit.record("@kari:x", PDF, T0 + timedelta(minutes=3))
    assert limit.next_allowed("@kari:x", PDF, T0 + timedelta(minutes=4)) == T0 + timedelta(minutes=10)
    assert limit.next_allowed("@kari:x", PDF, T0 + timedelta(minutes=10)) is None  # the first use has left the window
    limit.record("@kari:x", PDF, T0 + timedelta(minutes=10))
    assert limit.next_allowed("@kari:x", PDF, T0 + timedelta(minutes=11)) == T0 + timedelta(minutes=13)


def test_each_person_and_command_has_its_own_count() -> None:
    limit = RateLimit(1, timedelta(minutes=10))
    limit.record("@kari:x", PDF, T0)
    assert limit.next_allowed("@kari:x", PDF, T0) is not None
    assert limit.next_allowed("@ingrid:x", PDF, T0) is None
    assert limit.next_allowed("@kari:x", "case new", T0) is None
