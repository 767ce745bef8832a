"""The retry schedule: exponential with jitter, capped, and retried for at least the retry window (24 h by
default) before a delivery is failed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tgo.config import Settings
from tgo.kit.backoff import retry_delay
from tgo.webhooks.jobs import attempt_outcome
from tgo.webhooks.transport import AttemptResult

DEFAULTS = Settings(secret_key="x")


def test_delays_double_up_to_the_cap_with_bounded_jitter() -> None:
    base, cap = DEFAULTS.webhook_retry_base_seconds, DEFAULTS.webhook_retry_max_seconds
    assert [retry_delay(n, base=base, cap=cap, rand=lambda: 0.5) for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert retry_delay(30, base=base, cap=cap, rand=lambda: 0.5) == cap
    assert retry_delay(1000, base=base, cap=cap, rand=lambda: 0.5) == cap
    assert retry_delay(3, base=base, cap=cap, rand=lambda: 0.0) == 15
    assert retry_delay(3, base=base, cap=cap, rand=lambda: 0.999999) < 25


def test_the_default_schedule_retries_for_at_least_a_day() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    deadline = start + timedelta(seconds=DEFAULTS.webhook_retry_window_seconds)
    failure = AttemptResult(status_code=500, latency_ms=3, response_body=None, error=None)
    at, attempt = start, 1
    while True:
        values = attempt_outcome(failure, attempt=attempt, at=at, deadline=deadline, settings=DEFAULTS)
        if values["status"] == "failed":
            break
        assert values["status"] == "pending" and values["next_attempt_at"] > at
        at, attempt = values["next_attempt_at"], attempt + 1
    assert at - start >= timedelta(hours=24)
    assert at - start <= timedelta(hours=24) + timedelta(seconds=DEFAULTS.webhook_retry_max_seconds * 1.25)
    assert 15 <= attempt <= 30, attempt
    assert values["last_error"] == "HTTP 500" and values["completed_at"] == at


def test_success_and_gone_end_the_delivery() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    ok = AttemptResult(status_code=204, latency_ms=1, response_body=None, error=None)
    values = attempt_outcome(ok, attempt=3, at=at, deadline=at + timedelta(hours=1), settings=DEFAULTS)
    assert values["status"] == "succeeded" and values["last_error"] is None and values["attempt_count"] == 3
    gone = AttemptResult(status_code=410, latency_ms=1, response_body="bye", error=None)
    values = attempt_outcome(gone, attempt=1, at=at, deadline=at + timedelta(hours=1), settings=DEFAULTS)
    assert values["status"] == "failed" and values["last_error"] == "endpoint_gone"
    slow_ok = AttemptResult(status_code=200, latency_ms=1, response_body=None, error="timeout after HTTP 200")
    values = attempt_outcome(slow_ok, attempt=1, at=at, deadline=at + timedelta(hours=1), settings=DEFAULTS)
    assert values["status"] == "pending"
