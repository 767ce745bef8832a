"""The login throttle on its own, on both storages (memory; Redis under a key prefix of the test's own)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from tgo.dashboard import throttle
from tgo.dashboard.throttle import LoginAttempt, LoginThrottle, Tier

REDIS_URL = "redis://127.0.0.1:6379/0"


def waits(attempts: list[LoginAttempt]) -> list[str]:
    """``ok``: counted; ``~60``: refused with (about) a whole 60 s window to wait."""
    return [
        "ok" if a.retry_after is None else "~60" if 50 <= a.retry_after <= 60 else str(a.retry_after)
        for a in attempts
    ]


@pytest.fixture(params=["memory", "redis"])
async def login_throttle(request: pytest.FixtureRequest) -> AsyncIterator[LoginThrottle]:
    prefix = f"tgo-login-test-{uuid.uuid4().hex[:12]}"
    yield LoginThrottle(prefix, REDIS_URL if request.param == "redis" else None)
    r = aioredis.Redis.from_url(REDIS_URL)
    try:
        async for key in r.scan_iter(f"{prefix}:*"):
            await r.delete(key)
    finally:
        await r.aclose()


async def test_the_wait_grows_with_the_wrong_passwords(
    login_throttle: LoginThrottle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(throttle, "ACCOUNT_TIERS", (Tier(2, 1), Tier(3, 30)))
    first = [await login_throttle.attempt("a@example.com", 7, "10.0.0.1") for _ in range(3)]
    assert [a.retry_after for a in first] == [None, None, 1]
    await asyncio.sleep(1.2)  # the short tier is over: one more attempt, then the long tier's wait
    assert (await login_throttle.attempt("a@example.com", 7, "10.0.0.1")).retry_after is None
    longer = await login_throttle.attempt("a@example.com", 7, "10.0.0.1")
    assert longer.retry_after is not None and 20 < longer.retry_after <= 30
    # Another tenant's user with that address, and the address on a generic host, have counters of their own.
    assert (await login_throttle.attempt("a@example.com", 8, "10.0.0.1")).retry_after is None
    assert (await login_throttle.attempt("a@example.com", None, "10.0.0.1")).retry_after is None


async def test_a_success_clears_only_its_own_users_counter(
    login_throttle: LoginThrottle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(throttle, "ACCOUNT_TIERS", (Tier(3, 60),))
    monkeypatch.setattr(throttle, "CLIENT_TIERS", (Tier(100, 60),))
    # On a tenant's domain the counter is that user's own: its success clears the earlier failures.
    for _ in range(2):
        await login_throttle.attempt("own@example.com", 1, "10.0.0.2")
    await login_throttle.succeeded(await login_throttle.attempt("own@example.com", 1, "10.0.0.2"))
    again = [await login_throttle.attempt("own@example.com", 1, "10.0.0.2") for _ in range(4)]
    assert waits(again) == ["ok", "ok", "ok", "~60"]
    # On a generic host the counter is shared by every user with the address: a success gives back only
    # its own attempt, the two failures before it stay.
    for _ in range(2):
        await login_throttle.attempt("shared@example.com", None, "10.0.0.2")
    await login_throttle.succeeded(await login_throttle.attempt("shared@example.com", None, "10.0.0.2"))
    after = [await login_throttle.attempt("shared@example.com", None, "10.0.0.2") for _ in range(2)]
    assert waits(after) == ["ok", "~60"]


async def test_the_client_limit_counts_every_address_and_a_success_gives_its_attempt_back(
    login_throttle: LoginThrottle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(throttle, "CLIENT_TIERS", (Tier(3, 60),))
    await login_throttle.succeeded(await login_throttle.attempt("one@example.com", 1, "10.0.0.3"))
    results = [await login_throttle.attempt(f"{i}@example.com", 1, "10.0.0.3") for i in range(4)]
    assert waits(results) == ["ok", "ok", "ok", "~60"]
    assert (await login_throttle.attempt("x@example.com", 1, "10.0.0.4")).retry_after is None


async def test_logins_stay_throttled_in_process_while_redis_is_unreachable() -> None:
    unreachable = LoginThrottle(f"tgo-login-test-{uuid.uuid4().hex[:12]}", "redis://127.0.0.1:1/0")
    results = [await unreachable.attempt("a@example.com", 1, "10.0.0.5") for _ in range(6)]
    assert [r.retry_after is None for r in results] == [True] * 5 + [False]


async def test_attempts_counted_in_redis_still_count_when_redis_stops_answering() -> None:
    """Redis timed out under load for a few of 30 parallel guesses, and those were checked against counters
    that started from zero (7 passwords checked instead of 5). This process counts every attempt itself too,
    so what it let through before Redis went away still holds the tier."""
    prefix = f"tgo-login-test-{uuid.uuid4().hex[:12]}"
    shared = LoginThrottle(prefix, REDIS_URL)
    try:
        first = [await shared.attempt("a@example.com", 1, "10.0.0.6") for _ in range(3)]
        shared._redis = throttle._RedisCounters("redis://127.0.0.1:1/0")  # Redis stops answering
        then = [await shared.attempt("a@example.com", 1, "10.0.0.6") for _ in range(3)]
        assert [a.retry_after is None for a in first + then] == [True] * 5 + [False]
    finally:
        r = aioredis.Redis.from_url(REDIS_URL)
        async for key in r.scan_iter(f"{prefix}:*"):
            await r.delete(key)
        await r.aclose()


async def test_an_attempt_redis_refuses_for_another_process_counts_nothing_here() -> None:
    """Two processes share the Redis counters: the second is refused once the first used the tier up, and
    that refusal is not counted in the second's own memory (it still has all its attempts if Redis goes)."""
    prefix = f"tgo-login-test-{uuid.uuid4().hex[:12]}"
    one, two = LoginThrottle(prefix, REDIS_URL), LoginThrottle(prefix, REDIS_URL)
    try:
        assert [(await one.attempt("b@example.com", 1, "10.0.0.7")).retry_after for _ in range(5)] == [
            None
        ] * 5
        refused = [await two.attempt("b@example.com", 1, "10.0.0.7") for _ in range(3)]
        assert all(a.retry_after is not None and 50 <= a.retry_after <= 60 for a in refused)
        two._redis = throttle._RedisCounters("redis://127.0.0.1:1/0")
        alone = [await two.attempt("b@example.com", 1, "10.0.0.7") for _ in range(6)]
        assert [a.retry_after is None for a in alone] == [True] * 5 + [False]
    finally:
        r = aioredis.Redis.from_url(REDIS_URL)
        async for key in r.scan_iter(f"{prefix}:*"):
            await r.delete(key)
        await r.aclose()
