"""Per-sender delivery pace (TGO_SENDER_RATE_PER_SECOND, default 80/s as WhatsApp's): workers wait for a slot
instead of failing. Shared through Redis when TGO_REDIS_URL is set, per process otherwise."""

from __future__ import annotations

import asyncio
import random

import structlog
from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from tgo.config import Settings
from tgo.runtime import Runtime

log = structlog.get_logger("tgo.messages.pacing")


class SenderPacer:
    """The moving-window limiter of one runtime, its rate, and one lock per sender its waiters queue on."""

    def __init__(self, settings: Settings) -> None:
        storage: Storage = (
            RedisStorage(f"async+{settings.redis_url}") if settings.redis_url else MemoryStorage()
        )
        self.limiter = MovingWindowRateLimiter(storage)
        self.item = RateLimitItemPerSecond(max(1, int(settings.sender_rate_per_second)))
        self.locks: dict[int, asyncio.Lock] = {}
        self.held = HeldBudget(settings.delivery_max_held)


class HeldBudget:
    """How many messages this process holds claimed for delivery (TGO_DELIVERY_MAX_HELD): a batch job takes
    its share before it claims, so a worker that read many batch jobs holds a bounded number of claims (each
    paced, each to finish before its claim expires). When the worker stops, the waiting jobs give up."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_use = 0
        self.stopping = False
        self._changed = asyncio.Condition()
        self._drain_hooked = False

    def hooked(self, runtime: Runtime) -> HeldBudget:
        """This budget, its ``stop`` hooked to the runtime's drain on the first delivery of the process (a
        stopping worker stops its waiting jobs first)."""
        if not self._drain_hooked:
            self._drain_hooked = True
            runtime.on_drain(self.stop)
        return self

    async def take(self, n: int) -> int:
        """Wait for ``n`` (at most the limit) of the budget; returns what was taken, 0 if the worker stops."""
        n = max(1, min(n, self.limit))
        async with self._changed:
            await self._changed.wait_for(lambda: self.stopping or self.in_use + n <= self.limit)
            if self.stopping:
                return 0
            self.in_use += n
            return n

    async def give_back(self, n: int) -> None:
        async with self._changed:
            self.in_use -= n
            self._changed.notify_all()

    async def stop(self) -> None:
        """A drain hook: jobs waiting for the budget give up (their ids go back to the broker)."""
        async with self._changed:
            self.stopping = True
            self._changed.notify_all()


async def pace(runtime: Runtime, sender_number_id: int) -> None:
    """Wait until ``sender_number_id`` may send one more message."""
    pacer = runtime.sender_pacer.get()
    limiter, item = pacer.limiter, pacer.item
    key = f"{runtime.settings.queue_name}:sender:{sender_number_id}"
    lock = pacer.locks.setdefault(sender_number_id, asyncio.Lock())
    loop = asyncio.get_running_loop()
    # The caller holds a claim on the message for delivery_claim_seconds; past half of it, send anyway
    # rather than let the claim expire and another worker deliver the same message too.
    deadline = loop.time() + runtime.settings.delivery_claim_seconds / 2
    step = 1.0 / max(1.0, float(item.amount))
    try:
        async with asyncio.timeout_at(deadline):
            # One waiter per sender and process asks the limiter, the others queue here in order: a
            # backlog of hundreds polling Redis at once slowed every poll, and slots granted together
            # were then used seconds apart, bunched with the next second's.
            async with lock:
                while True:
                    if await limiter.hit(item, key):
                        return
                    await asyncio.sleep(step * random.uniform(0.5, 1.5))
    except TimeoutError:
        log.warning("sender_pace_exceeded", sender_number_id=sender_number_id)


async def pace_many(runtime: Runtime, sender_number_id: int, count: int, deadline: float) -> int:
    """Wait until ``sender_number_id`` may send up to ``count`` more messages at once, taken as one ``hit`` of
    that cost; returns how many it may send now (at most the rate per second: a larger group goes out in
    rounds). Past ``deadline`` (the loop's clock: half the caller's claim) it returns ``count`` unpaced."""
    pacer = runtime.sender_pacer.get()
    limiter, item = pacer.limiter, pacer.item
    key = f"{runtime.settings.queue_name}:sender:{sender_number_id}"
    lock = pacer.locks.setdefault(sender_number_id, asyncio.Lock())
    cost = max(1, min(count, int(item.amount)))
    step = 1.0 / max(1.0, float(item.amount))
    try:
        async with asyncio.timeout_at(deadline), lock:
            while True:
                if await limiter.hit(item, key, cost=cost):
                    return cost
                await asyncio.sleep(step * random.uniform(0.5, 1.5))
    except TimeoutError:
        log.warning("sender_pace_exceeded", sender_number_id=sender_number_id, count=count)
        return count
