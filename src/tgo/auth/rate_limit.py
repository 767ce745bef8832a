"""Per-key and per-tenant API rate limits (TGO_API_RATE_LIMIT_PER_KEY / _PER_TENANT, ``limits`` notation).

Fixed windows (limits parsed with ``limits``): counted in process (``auth.fixed_window``) in the embedded
deployment, in Redis when TGO_REDIS_URL is set so that every API process shares the counters (keys are prefixed with
TGO_QUEUE_NAME, so two deployments on one Redis do not share). The Redis path is one round trip per
request: a single Lua script increments both counters and returns their counts and time to reset.

Every response to a counted request carries the IETF draft headers ``RateLimit-Limit``,
``RateLimit-Remaining``, ``RateLimit-Reset`` (plus the combined ``RateLimit``/``RateLimit-Policy`` form) of
the limit closest to running out; a request over either limit is refused with 429 ``rate_limited``, which
adds ``Retry-After``. If Redis is unreachable the limiter fails open (logged): a
rate limiter must not take the API down with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import structlog
from limits import RateLimitItem, parse

from tgo.auth.context import AuthContext
from tgo.auth.fixed_window import FixedWindowCounters
from tgo.config import Settings
from tgo.errors import RateLimited
from tgo.observability import add_response_headers
from tgo.runtime import Runtime

log = structlog.get_logger("tgo.rate_limit")

# KEYS: per-key counter, per-tenant counter. ARGV: their window lengths in seconds.
# Returns {count_key, ttl_ms_key, count_tenant, ttl_ms_tenant}.
_LUA = """
local out = {}
for i = 1, 2 do
  local n = redis.call('INCR', KEYS[i])
  if n == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[i]) end
  local ttl = redis.call('PTTL', KEYS[i])
  if ttl < 0 then redis.call('PEXPIRE', KEYS[i], ARGV[i]); ttl = tonumber(ARGV[i]) end
  out[#out + 1] = n
  out[#out + 1] = ttl
end
return out
"""


@dataclass(frozen=True)
class Window:
    limit: int
    count: int
    reset_seconds: float
    policy: str

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.count)

    @property
    def exceeded(self) -> bool:
        return self.count > self.limit


class ApiRateLimiter:
    def __init__(self, per_key: str, per_tenant: str, redis_url: str | None, prefix: str) -> None:
        self.per_key: RateLimitItem = parse(per_key)
        self.per_tenant: RateLimitItem = parse(per_tenant)
        self.prefix = prefix
        # The window parts of the counters' names (constant per limit: computed once, not per request).
        self._key_window = self.per_key.key_for()
        self._tenant_window = self.per_tenant.key_for()
        self._expiry = (self.per_key.get_expiry(), self.per_tenant.get_expiry())
        self._memory = FixedWindowCounters() if not redis_url else None
        self._redis: Any = None
        self._script: Any = None
        if redis_url:
            from redis.asyncio import Redis

            self._redis = Redis.from_url(redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)
            self._script = self._redis.register_script(_LUA)

    @classmethod
    def from_settings(cls, s: Settings) -> ApiRateLimiter:
        return cls(
            s.api_rate_limit_per_key, s.api_rate_limit_per_tenant, s.redis_url, f"{s.queue_name}:api-rl"
        )

    def _keys(self, auth: AuthContext) -> tuple[str, str]:
        return (
            f"{self.prefix}:key:{auth.api_key_id}:{self._key_window}",
            f"{self.prefix}:tenant:{auth.tenant_id}:{self._tenant_window}",
        )

    async def hit(self, auth: AuthContext) -> tuple[Window, Window] | None:
        """Count one request against the key and the tenant; ``None`` when the counters are unavailable."""
        key_name, tenant_name = self._keys(auth)
        items = (self.per_key, self.per_tenant)
        if self._memory is not None:
            key_count, key_reset = self._memory.hit(key_name, self._expiry[0])
            tenant_count, tenant_reset = self._memory.hit(tenant_name, self._expiry[1])
            return _window(items[0], key_count, key_reset), _window(items[1], tenant_count, tenant_reset)
        try:
            raw = await self._script(
                keys=[key_name, tenant_name],
                args=[self._expiry[0] * 1000, self._expiry[1] * 1000],
            )
        except Exception as exc:  # Redis down or slow: fail open rather than refuse every request
            log.warning("rate_limit_unavailable", error=type(exc).__name__)
            return None
        return (
            _window(items[0], int(raw[0]), int(raw[1]) / 1000),
            _window(items[1], int(raw[2]), int(raw[3]) / 1000),
        )

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()


def _window(item: RateLimitItem, count: int, reset: float) -> Window:
    return Window(item.amount, count, max(0.0, reset), f"{item.amount};w={item.get_expiry()}")


def limit_headers(window: Window) -> dict[str, str]:
    """The 429 headers: ``Retry-After`` and the RateLimit ones."""
    return {"Retry-After": str(max(1, math.ceil(window.reset_seconds))), **ratelimit_headers(window)}


def ratelimit_headers(window: Window) -> dict[str, str]:
    """The IETF draft RateLimit headers of one window."""
    reset = max(1, math.ceil(window.reset_seconds))
    return {
        "RateLimit-Limit": str(window.limit),
        "RateLimit-Remaining": str(window.remaining),
        "RateLimit-Reset": str(reset),
        "RateLimit": f"limit={window.limit}, remaining={window.remaining}, reset={reset}",
        "RateLimit-Policy": window.policy,
    }


async def enforce(runtime: Runtime, auth: AuthContext) -> None:
    """Raise 429 when this request takes the key or its tenant over the limit; otherwise the response
    carries the RateLimit headers of the limit closer to running out."""
    windows = await runtime.api_rate_limiter.get().hit(auth)
    if windows is None:
        return
    closest = min(windows, key=lambda w: (w.remaining, w.reset_seconds))
    add_response_headers(ratelimit_headers(closest))
    exceeded = [w for w in windows if w.exceeded]
    if exceeded:
        worst = max(exceeded, key=lambda w: w.reset_seconds)
        raise RateLimited(
            headers=limit_headers(worst), extra={"retry_after": max(1, math.ceil(worst.reset_seconds))}
        )
