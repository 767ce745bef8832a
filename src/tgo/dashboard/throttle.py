"""Dashboard login throttle: each attempt is counted *before* its password is verified.

Two counters per attempt: the account's (the e-mail within the tenant whose domain the login is on, or the
e-mail on hosts that are no tenant's domain) and the client address's. Taking an attempt checks every tier
of both and increments them all in one atomic step, so parallel wrong passwords cannot all get through
before the first is recorded: first in this process's memory (a lock around ``limits``' memory storage),
then, when TGO_REDIS_URL is set and the process allowed it, in Redis (one Lua script) for the processes
together. While Redis is slow or down the process's own counts still hold (a Redis timeout let two more
of 30 parallel guesses through when Redis alone counted). A process's memory is not cleared by another
process's successful login, so after one it may refuse that user a little sooner than Redis would.
A refused attempt counts nothing. A successful login clears its account's counter only when that counter
is one user's own (the tenant is known); elsewhere, and for the client, it gives back only its own
attempt, so a login as one's own user never wipes the guesses made against another user with the same
address. The account's tiers make the wait grow (a minute after 5 wrong
passwords, up to 15 minutes after 10, up to an hour after 20) instead of one hard 15-minute lock.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog
from limits.aio.storage import MemoryStorage

from tgo.config import Settings

log = structlog.get_logger("tgo.dashboard.throttle")
T = TypeVar("T")


@dataclass(frozen=True)
class Tier:
    limit: int
    seconds: int


# Fixed windows that start at an account's first counted attempt; together they are a growing delay.
ACCOUNT_TIERS = (Tier(5, 60), Tier(10, 15 * 60), Tier(20, 3600))
# One address (IP) trying many e-mail addresses.
CLIENT_TIERS = (Tier(20, 15 * 60),)

# KEYS: counters. ARGV: limit and window (ms) of each, in order. Returns the wait in ms (0: taken).
_TAKE = """
local wait = 0
for i = 1, #KEYS do
  local n = tonumber(redis.call('GET', KEYS[i]) or '0')
  if n >= tonumber(ARGV[2 * i - 1]) then
    local ttl = redis.call('PTTL', KEYS[i])
    if ttl < 0 then redis.call('PEXPIRE', KEYS[i], ARGV[2 * i]); ttl = tonumber(ARGV[2 * i]) end
    if ttl > wait then wait = ttl end
  end
end
if wait > 0 then return wait end
for i = 1, #KEYS do
  if redis.call('INCR', KEYS[i]) == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[2 * i]) end
end
return 0
"""
# KEYS: counters to give one attempt back to (never below zero, never re-creating an expired one).
_GIVE_BACK = """
for i = 1, #KEYS do
  local n = tonumber(redis.call('GET', KEYS[i]) or '0')
  if n > 0 then redis.call('DECR', KEYS[i]) end
end
return 0
"""


@dataclass(frozen=True)
class LoginAttempt:
    """One counted (or refused) login attempt."""

    account_keys: tuple[str, ...]
    client_keys: tuple[str, ...]
    # The account counter is one user's own (the login is on a tenant's domain): a success may clear it.
    own_account: bool
    retry_after: int | None = None  # seconds; set when the attempt was refused and nothing was counted


class _MemoryCounters:
    """In-process counters on ``limits``' memory storage; the lock makes check-and-increment one step."""

    def __init__(self) -> None:
        self._storage: MemoryStorage | None = None
        self._lock: asyncio.Lock | None = None

    def _parts(self) -> tuple[MemoryStorage, asyncio.Lock]:
        # Built on first use, inside the running loop (the memory storage schedules its expiry task).
        if self._storage is None or self._lock is None:
            self._storage, self._lock = MemoryStorage(), asyncio.Lock()
        return self._storage, self._lock

    async def take(self, counters: list[tuple[str, Tier]]) -> float:
        storage, lock = self._parts()
        async with lock:
            wait = 0.0
            for key, tier in counters:
                if await storage.get(key) >= tier.limit:
                    wait = max(wait, await storage.get_expiry(key) - time.time(), 0.001)
            if wait:
                return wait
            for key, tier in counters:
                await storage.incr(key, tier.seconds)
            return 0.0

    async def give_back(self, keys: tuple[str, ...]) -> None:
        storage, lock = self._parts()
        async with lock:
            for key in keys:
                if await storage.get(key) > 0:
                    await storage.decr(key)

    async def clear(self, keys: tuple[str, ...]) -> None:
        storage, lock = self._parts()
        async with lock:
            for key in keys:
                await storage.clear(key)


class _RedisCounters:
    def __init__(self, url: str) -> None:
        from redis.asyncio import Redis

        self._redis: Any = Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._take = self._redis.register_script(_TAKE)
        self._give_back = self._redis.register_script(_GIVE_BACK)

    async def take(self, counters: list[tuple[str, Tier]]) -> float:
        args: list[int] = []
        for _, tier in counters:
            args += [tier.limit, tier.seconds * 1000]
        wait_ms = await self._take(keys=[key for key, _ in counters], args=args)
        return int(wait_ms) / 1000

    async def give_back(self, keys: tuple[str, ...]) -> None:
        await self._give_back(keys=list(keys))

    async def clear(self, keys: tuple[str, ...]) -> None:
        await self._redis.delete(*keys)


_Counters = _MemoryCounters | _RedisCounters


class LoginThrottle:
    def __init__(self, prefix: str, redis_url: str | None = None) -> None:
        self.prefix = prefix
        # Every attempt is counted in this process's memory too, before Redis is asked: while Redis is slow
        # or down, logins stay throttled by what this process has already counted (not by counters that
        # start again from zero), rather than unthrottled or refused.
        self._memory = _MemoryCounters()
        self._redis = _RedisCounters(redis_url) if redis_url else None

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginThrottle:
        return cls(f"{settings.queue_name}:dash-login", settings.redis_url)

    def _account_keys(self, email: str, tenant_id: int | None) -> tuple[str, ...]:
        # Hashed: bounded key length whatever was typed, and no addresses in Redis.
        digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
        scope = f"t{tenant_id}" if tenant_id is not None else "any"
        return tuple(f"{self.prefix}:account:{scope}:{digest}:{t.seconds}" for t in ACCOUNT_TIERS)

    def _client_keys(self, client: str) -> tuple[str, ...]:
        return tuple(f"{self.prefix}:client:{client}:{t.seconds}" for t in CLIENT_TIERS)

    async def attempt(self, email: str, tenant_id: int | None, client: str) -> LoginAttempt:
        """Count one login attempt, or refuse it (``retry_after``) when the account or client is over a
        tier. ``tenant_id``: the tenant whose domain the login is on, ``None`` elsewhere."""
        account, clients = self._account_keys(email, tenant_id), self._client_keys(client)
        counters = [*zip(account, ACCOUNT_TIERS, strict=True), *zip(clients, CLIENT_TIERS, strict=True)]
        wait = await self._memory.take(counters)
        if wait == 0 and self._redis is not None:
            redis = self._redis
            shared = await self._on_redis(lambda: redis.take(counters))
            if shared:  # another process's attempts used the tier up: refused, so this one counts nothing
                await self._memory.give_back(account + clients)
                wait = shared
        retry_after = max(1, math.ceil(wait)) if wait > 0 else None
        return LoginAttempt(account, clients, tenant_id is not None, retry_after)

    async def succeeded(self, attempt: LoginAttempt) -> None:
        """The attempt signed a user in: clear that user's own counter, give back the shared ones."""
        await _release(self._memory, attempt)
        if self._redis is not None:
            redis = self._redis
            await self._on_redis(lambda: _release(redis, attempt))

    async def _on_redis(self, operation: Callable[[], Awaitable[T]]) -> T | None:
        """A Redis operation, or None (logged) when Redis is down or slow: this process's memory counters,
        which counted the attempt too, stand."""
        try:
            return await operation()
        except Exception as exc:
            log.warning("login_throttle_redis_unavailable", error=type(exc).__name__)
            return None


async def _release(counters: _Counters, attempt: LoginAttempt) -> None:
    if attempt.own_account:
        await counters.clear(attempt.account_keys)
        await counters.give_back(attempt.client_keys)
    else:
        await counters.give_back(attempt.account_keys + attempt.client_keys)
