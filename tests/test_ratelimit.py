"""Specification of per-person command rate limits (homeward/ratelimit.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from homeward.ratelimit import Rate, RateLimiter, parse_rate

T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)
HOURLY = Rate(2, timedelta(hours=1))


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("5/1h", Rate(5, timedelta(hours=1))),
        ("30/10m", Rate(30, timedelta(minutes=10))),
        ("3/d", Rate(3, timedelta(days=1))),
        (" 1 / 90s ", Rate(1, timedelta(seconds=90))),
        ("off", None),
        ("OFF", None),
    ],
)
def test_a_rate_is_written_as_a_count_per_period(text: str, rate: Rate | None) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["5", "0/1h", "5/0h", "5/1w", "-1/1h", "five per hour", ""])
def test_a_malformed_rate_is_refused_with_the_expected_form(text: str) -> None:
    with pytest.raises(ValueError, match="5/1h"):
        parse_rate(text)


def test_a_rate_reads_back_as_written() -> None:
    assert str(Rate(5, timedelta(hours=1))) == "5/1h" and str(Rate(1, timedelta(seconds=90))) == "1/90s"


def test_a_person_may_run_a_command_as_often_as_its_rate_allows_then_waits_for_the_oldest_run_to_age_out() -> None:
    limiter = RateLimiter()
    assert limiter.wait("@a:x", "case new", HOURLY, T0) is None
    limiter.record("@a:x", "case new", HOURLY, T0)
    limiter.record("@a:x", "case new", HOURLY, T0 + timedelta(minutes=10))
    assert limiter.wait("@a:x", "case new", HOURLY, T0 + timedelta(minutes=20)) == timedelta(minutes=40)
    assert limiter.wait("@a:x", "case new", HOURLY, T0 + timedelta(hours=1)) is None


def test_counts_are_per_person_and_per_command() -> None:
    limiter = RateLimiter()
    for _ in range(2):
        limiter.record("@a:x", "case new", HOURLY, T0)
    assert limiter.wait("@a:x", "case new", HOURLY, T0) is not None
    assert limiter.wait("@b:x", "case new", HOURLY, T0) is None
    assert limiter.wait("@a:x", "remind", HOURLY, T0) is None


def test_the_configuration_overrides_a_declared_rate_or_turns_it_off() -> None:
    limiter = RateLimiter({"case new": Rate(1, timedelta(minutes=5)), "remind": None})
    assert limiter.rate_for("case new", HOURLY) == Rate(1, timedelta(minutes=5))
    assert limiter.rate_for("remind", HOURLY) is None
    assert limiter.rate_for("export plan", HOURLY) == HOURLY
