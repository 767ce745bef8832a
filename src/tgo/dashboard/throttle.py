"""Login throttling with ``limits``: in-process memory storage, Redis when TGO_REDIS_URL is set."""

from __future__ import annotations

import time

from limits import RateLimitItemPerMinute
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from tgo.config import Settings

# Five wrong passwords for one e-mail address within 15 minutes block that address for the rest of
# the window; one address (IP) trying many e-mail addresses is blocked after 20.
PER_ACCOUNT = RateLimitItemPerMinute(5, 15)
PER_CLIENT = RateLimitItemPerMinute(20, 15)


class LoginThrottle:
    def __init__(self, storage: Storage) -> None:
        self._limiter = MovingWindowRateLimiter(storage)

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginThrottle:
        if settings.redis_url:
            uri = settings.redis_url
            uri = uri if uri.startswith("async+") else f"async+{uri}"
        else:
            uri = "async+memory://"
        storage = storage_from_string(uri)
        assert isinstance(storage, Storage)
        return cls(storage)

    async def retry_after(self, email: str, client: str) -> int | None:
        """Seconds until another attempt is allowed, or ``None`` when not throttled."""
        waits = []
        for item, key in ((PER_ACCOUNT, _account(email)), (PER_CLIENT, _client(client))):
            if not await self._limiter.test(item, key):
                stats = await self._limiter.get_window_stats(item, key)
                waits.append(max(1, int(stats.reset_time - time.time())))
        return max(waits) if waits else None

    async def failed(self, email: str, client: str) -> None:
        await self._limiter.hit(PER_ACCOUNT, _account(email))
        await self._limiter.hit(PER_CLIENT, _client(client))

    async def succeeded(self, email: str) -> None:
        await self._limiter.clear(PER_ACCOUNT, _account(email))


def _account(email: str) -> str:
    return "dashboard-login-account:" + email.strip().lower()


def _client(client: str) -> str:
    return "dashboard-login-client:" + client
