"""NoticedCache.get_many (the batch opt-out check's): one load of the keys it lacks, nothing stored when a
notice of its topics arrived during that load or while the notices are not heard; NoticedCache.get: one load
for concurrent misses of an entry (a single flight)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from tgo.kit import noticed_cache
from tgo.kit.noticed_cache import NoticedCache, Subscriber


class Bus:
    def __init__(self) -> None:
        self.healthy = True
        self.subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.append(subscriber)

    def notice(self, topic: str, key: str) -> None:
        for sub in self.subscribers:
            sub.notice(topic, key)


async def test_get_many_loads_only_what_it_lacks_and_a_notice_drops_the_group() -> None:
    bus = Bus()
    cache: NoticedCache[bool] = NoticedCache(bus, frozenset({"t"}), ttl_seconds=30)
    loads: list[list[str]] = []

    async def load(keys: list[str]) -> dict[str, bool]:
        loads.append(sorted(keys))
        return {k: k == "b" for k in keys}

    assert await cache.get_many("1", ["a", "b"], load) == {"a": False, "b": True}
    assert await cache.get_many("1", ["a", "b", "c"], load) == {"a": False, "b": True, "c": False}
    assert loads == [["a", "b"], ["c"]] and cache.hits == 2
    bus.notice("other", "1")  # another topic: kept
    await cache.get_many("1", ["a"], load)
    assert len(loads) == 2
    bus.notice("t", "2")  # another group: kept
    await cache.get_many("1", ["a"], load)
    assert len(loads) == 2
    bus.notice("t", "1")
    await cache.get_many("1", ["a"], load)
    assert loads[-1] == ["a"]


async def test_get_many_stores_nothing_loaded_across_a_notice_or_while_unhealthy() -> None:
    bus = Bus()
    cache: NoticedCache[bool] = NoticedCache(bus, frozenset({"t"}), ttl_seconds=30)
    calls = 0

    async def racing(keys: list[str]) -> dict[str, bool]:
        nonlocal calls
        calls += 1
        bus.notice("t", "1")  # the change committed while this read ran
        return dict.fromkeys(keys, False)

    await cache.get_many("1", ["a"], racing)
    await cache.get_many("1", ["a"], racing)
    assert calls == 2  # the first answer was not stored

    bus.healthy = False

    async def load(keys: list[str]) -> dict[str, bool]:
        nonlocal calls
        calls += 1
        return dict.fromkeys(keys, True)

    await cache.get_many("1", ["b"], load)
    bus.healthy = True
    await cache.get_many("1", ["b"], load)
    assert calls == 4  # nothing was served or stored while the notices were not heard


class FakeTime:
    """The cache's clock (``noticed_cache.time``), moved by the test."""

    def __init__(self) -> None:
        self.at = 1000.0

    def monotonic(self) -> float:
        return self.at


async def test_a_reloaded_expired_entry_is_counted_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # An expired entry loaded again replaces itself: the cache's size must not grow, or a full cache is
    # dropped (every entry of every group) long before it holds ``max_entries``.
    clock = FakeTime()
    monkeypatch.setattr(noticed_cache, "time", clock)
    cache: NoticedCache[str] = NoticedCache(Bus(), frozenset({"t"}), ttl_seconds=30, max_entries=2)
    loads: list[str] = []

    def loader(key: str) -> Callable[[], Awaitable[str]]:
        async def load() -> str:
            loads.append(key)
            return key

        return load

    assert await cache.get("1", "a", loader("a")) == "a"
    for _ in range(3):  # expires and is reloaded, three times over
        clock.at += 31
        assert await cache.get("1", "a", loader("a")) == "a"
    assert await cache.get("2", "b", loader("b")) == "b"  # the second entry: the cache is full, not over
    assert await cache.get("1", "a", loader("a")) == "a"
    assert await cache.get("2", "b", loader("b")) == "b"
    assert loads == ["a", "a", "a", "a", "b"]  # both still cached


async def test_get_many_counts_only_keys_it_adds(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeTime()
    monkeypatch.setattr(noticed_cache, "time", clock)
    cache: NoticedCache[bool] = NoticedCache(Bus(), frozenset({"t"}), ttl_seconds=30, max_entries=3)
    loads: list[list[str]] = []

    async def load(keys: list[str]) -> dict[str, bool]:
        loads.append(sorted(keys))
        return dict.fromkeys(keys, True)

    await cache.get_many("1", ["a", "b"], load)
    clock.at += 20
    await cache.get_many("2", ["c"], load)  # three entries: full
    clock.at += 20  # a and b expired, c not
    await cache.get_many("1", ["a", "b"], load)  # replaces two entries: still three, nothing dropped
    await cache.get_many("2", ["c"], load)
    assert loads == [["a", "b"], ["c"], ["a", "b"]]
    # And a real overflow still drops the lot rather than growing past the bound.
    await cache.get_many("3", ["d"], load)
    await cache.get_many("1", ["a"], load)
    assert loads[-2:] == [["d"], ["a"]]


class SlowLoad:
    """A load that waits until the test lets it finish, counting its calls."""

    def __init__(self, value: str = "row") -> None:
        self.calls = 0
        self.value = value
        self.release = asyncio.Event()
        self.fail: Exception | None = None

    async def __call__(self) -> str:
        self.calls += 1
        call = self.calls
        await self.release.wait()
        if self.fail is not None:
            raise self.fail
        return f"{self.value}-{call}"


async def test_concurrent_misses_of_one_entry_share_one_load() -> None:
    cache: NoticedCache[str] = NoticedCache(Bus(), frozenset({"t"}), ttl_seconds=30)
    load = SlowLoad()
    waiting = [asyncio.ensure_future(cache.get("1", "a", load)) for _ in range(20)]
    other = asyncio.ensure_future(cache.get("1", "b", load))  # another entry: a load of its own
    await asyncio.sleep(0)
    load.release.set()
    answers = await asyncio.gather(*waiting)
    assert answers == ["row-1"] * 20 and await other == "row-2"
    assert load.calls == 2 and cache.misses == 2 and cache.joined == 19
    assert await cache.get("1", "a", load) == "row-1" and cache.hits == 1  # stored once, served after


async def test_a_miss_after_a_notice_does_not_join_the_load_started_before_it() -> None:
    bus = Bus()
    cache: NoticedCache[str] = NoticedCache(bus, frozenset({"t"}), ttl_seconds=30)
    load = SlowLoad()
    before = asyncio.ensure_future(cache.get("1", "a", load))
    await asyncio.sleep(0)
    bus.notice("t", "1")  # the change committed while the first read ran
    after = asyncio.ensure_future(cache.get("1", "a", load))
    await asyncio.sleep(0)
    load.release.set()
    assert await before == "row-1"  # the request that came first may see the old row
    assert await after == "row-2"  # the one that came after the notice reads again
    assert load.calls == 2 and cache.joined == 0
    assert await cache.get("1", "a", load) == "row-2"  # the fresh answer is the one stored
    assert load.calls == 2


async def test_when_the_first_request_is_cancelled_the_others_read_for_themselves() -> None:
    """The load runs in the task of the request that missed first (it may read through that request's
    session); cancelled with it, the ones waiting read for themselves instead of failing."""
    cache: NoticedCache[str] = NoticedCache(Bus(), frozenset({"t"}), ttl_seconds=30)
    load = SlowLoad()
    first = asyncio.ensure_future(cache.get("1", "a", load))
    await asyncio.sleep(0)
    second = asyncio.ensure_future(cache.get("1", "a", load))
    await asyncio.sleep(0)
    first.cancel()  # its client went away
    await asyncio.sleep(0)
    load.release.set()
    assert await second == "row-2"  # its own read
    assert first.cancelled() and load.calls == 2
    assert await cache.get("1", "a", load) == "row-2" and cache.hits == 1


async def test_a_failed_load_is_not_its_waiters_failure() -> None:
    """The first request's read fails (its own session's trouble, say): the others read for themselves."""
    cache: NoticedCache[str] = NoticedCache(Bus(), frozenset({"t"}), ttl_seconds=30)
    failing, working = SlowLoad(), SlowLoad("mine")
    failing.fail = ConnectionError("that session's connection broke")
    first = asyncio.ensure_future(cache.get("1", "a", failing))
    await asyncio.sleep(0)
    others = [asyncio.ensure_future(cache.get("1", "a", working)) for _ in range(3)]
    await asyncio.sleep(0)
    working.release.set()
    failing.release.set()
    with pytest.raises(ConnectionError):
        await first
    assert await asyncio.gather(*others) == ["mine-1"] * 3  # one of them read, the other two joined it
    assert failing.calls == 1 and working.calls == 1
