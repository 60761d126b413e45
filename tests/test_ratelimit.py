"""Specification of per-person command rate limits (homeward/ratelimit.py), the PDF exports' among them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from homeward.config import Config
from homeward.ratelimit import PDF_EXPORTS, Rate, RateLimiter, limit_key, parse_rate
from homeward.work.services import Services

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


def test_a_limit_counts_a_command_or_one_variant_of_it() -> None:
    assert limit_key("case new") == "case new"
    assert limit_key("export", "pdf") == PDF_EXPORTS == "export pdf"


def test_the_pdf_limit_allows_count_uses_within_the_window_and_says_when_the_next_one_may_come() -> None:
    limiter, rate = RateLimiter(), Rate(2, timedelta(minutes=10))
    assert limiter.wait("@kari:x", PDF_EXPORTS, rate, T0) is None
    limiter.record("@kari:x", PDF_EXPORTS, rate, T0)
    limiter.record("@kari:x", PDF_EXPORTS, rate, T0 + timedelta(minutes=3))
    at = T0 + timedelta(minutes=4)
    wait = limiter.wait("@kari:x", PDF_EXPORTS, rate, at)
    assert wait is not None and at + wait == T0 + timedelta(minutes=10)
    # the first use has left the window
    assert limiter.wait("@kari:x", PDF_EXPORTS, rate, T0 + timedelta(minutes=10)) is None
    limiter.record("@kari:x", PDF_EXPORTS, rate, T0 + timedelta(minutes=10))
    at = T0 + timedelta(minutes=11)
    wait = limiter.wait("@kari:x", PDF_EXPORTS, rate, at)
    assert wait is not None and at + wait == T0 + timedelta(minutes=13)


def test_each_person_and_limit_has_its_own_count() -> None:
    limiter, rate = RateLimiter(), Rate(1, timedelta(minutes=10))
    limiter.record("@kari:x", PDF_EXPORTS, rate, T0)
    assert limiter.wait("@kari:x", PDF_EXPORTS, rate, T0) is not None
    assert limiter.wait("@ingrid:x", PDF_EXPORTS, rate, T0) is None
    assert limiter.wait("@kari:x", "case new", rate, T0) is None


def test_the_pdf_export_settings_are_the_limit_of_pdf_exports_in_the_one_limiter() -> None:
    settings = {"homeserver": "http://127.0.0.1:1", "user_id": "@bot:x", "password": "x"}
    assert Config.model_validate(settings).rate_limiter_limits[PDF_EXPORTS] == Rate(5, timedelta(minutes=10))
    config = Config.model_validate(
        settings | {"export_pdf_limit": 2, "export_pdf_window_seconds": 3600, "rate_limits": {"remind": "off"}}
    )
    assert config.rate_limiter_limits == {PDF_EXPORTS: Rate(2, timedelta(hours=1)), "remind": None}
    services = Services(config=config, catalog=None, clock=None)  # type: ignore[arg-type]
    assert services.limiter.rate_for(PDF_EXPORTS, None) == Rate(2, timedelta(hours=1))
