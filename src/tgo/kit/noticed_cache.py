"""An in-process cache whose entries are dropped by change notices (``tgo.notices``), with a short TTL only
as a safety net. Entries are grouped by the key their notices carry (a key's hash, a tenant id, a phone)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection, Hashable, Mapping
from typing import Generic, Protocol, TypeVar

V = TypeVar("V")
K = TypeVar("K", bound=Hashable)

ALL = "*"  # a notice for every group of its topic


class Subscriber(Protocol):
    def notice(self, topic: str, key: str) -> None: ...

    def reset(self) -> None: ...


class NoticeSource(Protocol):
    @property
    def healthy(self) -> bool: ...

    def subscribe(self, subscriber: Subscriber) -> None: ...


class _LoadFailed(Exception):
    """The load that a miss waited for failed or was cancelled."""


class NoticedCache(Generic[V]):
    """``get(group, key, load)``: the cached value, or ``load()``'s (cached when no notice of this cache's
    topics arrived while it loaded, so a change committed during the read is never cached stale). Nothing is
    served or stored while the notice source is unhealthy (notices could be missed).

    Concurrent misses of one entry share one load (a single flight): when an entry expires under load, the
    requests in flight for it (up to the server's connections) would otherwise each read the same row. A
    request that misses after a notice arrived does not join a load started before it; one whose load failed
    reads for itself."""

    def __init__(
        self, notices: NoticeSource, topics: frozenset[str], ttl_seconds: float, max_entries: int = 50_000
    ) -> None:
        self.topics = topics
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._notices = notices
        self._groups: dict[str, dict[Hashable, tuple[float, V]]] = {}
        self._size = 0
        self._epoch = 0
        self._flights: dict[tuple[str, Hashable], tuple[int, asyncio.Future[V]]] = {}
        self.hits = 0
        self.misses = 0
        self.joined = 0  # misses answered by another request's load
        notices.subscribe(self)

    async def get(
        self,
        group: str,
        key: Hashable,
        load: Callable[[], Awaitable[V]],
        keep: Callable[[V], bool] | None = None,
    ) -> V:
        if self.ttl <= 0 or not self._notices.healthy:
            return await load()
        entries = self._groups.get(group)
        if entries is not None:
            found = entries.get(key)
            if found is not None and found[0] > time.monotonic():
                self.hits += 1
                return found[1]
        flight_key = (group, key)
        flight = self._flights.get(flight_key)
        if flight is not None and flight[0] == self._epoch:
            self.joined += 1
            try:
                return await asyncio.shield(flight[1])
            except _LoadFailed:
                return await self.get(group, key, load, keep)  # the first one's failure is not ours: read
        self.misses += 1
        epoch = self._epoch
        # The request that misses first loads, in its own task (a load may read through the caller's
        # session); the others wait for its answer. If it fails or is cancelled (its client gone), they read
        # for themselves: its failure may be its own session's.
        answer: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._flights[flight_key] = (epoch, answer)
        try:
            value = await load()
        except BaseException:
            answer.set_exception(_LoadFailed())
            answer.exception()  # retrieved: there may be nobody waiting
            raise
        finally:
            if self._flights.get(flight_key, (0, None))[1] is answer:
                del self._flights[flight_key]
        if epoch == self._epoch and self._notices.healthy and (keep is None or keep(value)):
            self._store(group, {key: value})
        answer.set_result(value)
        return value

    async def get_many(
        self,
        group: str,
        keys: Collection[K],
        load: Callable[[list[K]], Awaitable[dict[K, V]]],
    ) -> dict[K, V]:
        """``get`` for several keys of one group: the cached values, and ``load(missing)``'s for the others in
        one call (it must answer every key it is given), stored under the same rule as ``get``'s."""
        if self.ttl <= 0 or not self._notices.healthy:
            return await load(list(keys))
        found: dict[K, V] = {}
        missing: list[K] = []
        entries = self._groups.get(group) or {}
        at = time.monotonic()
        for key in keys:
            entry = entries.get(key)
            if entry is not None and entry[0] > at:
                found[key] = entry[1]
            else:
                missing.append(key)
        self.hits += len(found)
        if not missing:
            return found
        self.misses += len(missing)
        epoch = self._epoch
        loaded = await load(missing)
        if epoch == self._epoch and self._notices.healthy:
            self._store(group, loaded)
        return found | loaded

    def _store(self, group: str, values: Mapping[K, V]) -> None:
        """Cache ``values`` in ``group``; the size counts each key once (an expired entry loaded again replaces
        itself), and a cache that would pass ``max_entries`` is emptied first."""
        stored = self._groups.get(group, {})
        added = sum(1 for key in values if key not in stored)
        if self._size + added > self.max_entries:
            self._clear()
            added = len(values)
        stored = self._groups.setdefault(group, {})
        expires = time.monotonic() + self.ttl
        for key, value in values.items():
            stored[key] = (expires, value)
        self._size += added

    def notice(self, topic: str, key: str) -> None:
        if topic not in self.topics:
            return
        self._epoch += 1
        if key == ALL:
            self._clear()
            return
        dropped = self._groups.pop(key, None)
        if dropped:
            self._size -= len(dropped)

    def reset(self) -> None:
        self._epoch += 1
        self._clear()

    def _clear(self) -> None:
        self._groups.clear()
        self._size = 0
