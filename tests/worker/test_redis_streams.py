"""The Redis streams broker's upkeep (issue 16 item 6), against the real Redis on a stream of each test's own:
acknowledged entries are trimmed (never one not yet read), a killed consumer's pending entries are run by
another worker after TGO_REDIS_STREAM_CLAIM_SECONDS, and a consumer that is gone leaves the group."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from redis.asyncio import Redis
from taskiq.exceptions import SendTaskError

from tgo.config import Settings
from tgo.part import Part
from tgo.runtime import Runtime
from tgo.wiring import PARTS, build_runtime
from tgo.worker.broker import Broker
from tgo.worker.redis_streams import hand_back, keep_redis_stream, upkeep

pytestmark = pytest.mark.postgres_only

REDIS_URL = "redis://127.0.0.1:6379/0"
CLAIM_SECONDS = 1.0
FLOWING_CLAIM_SECONDS = 5.0  # the claim time while 300 jobs flow (see flowing_done)


@dataclass
class Probe:
    """A job that records each payload it is run with (a negative one only says the consumer runs jobs)."""

    seen: list[int] = field(default_factory=list)
    warm: asyncio.Event = field(default_factory=asyncio.Event)

    async def record(self, runtime: Runtime, payload: dict[str, Any]) -> None:
        if int(payload["n"]) < 0:
            self.warm.set()
        else:
            self.seen.append(int(payload["n"]))


@dataclass
class Stream:
    runtime: Runtime
    broker: Broker
    redis: Redis
    probe: Probe
    name: str
    group: str
    consumers: list[tuple[asyncio.Event, asyncio.Task[None]]] = field(default_factory=list)

    async def consume(self) -> None:
        """Start consuming, and return once the consumer runs jobs: a warm-up job is published until one
        goes (the consumer reconnects as it starts, failing a publish at that moment)."""
        self.probe.warm.clear()
        finish = asyncio.Event()
        self.consumers.append((finish, asyncio.create_task(self.broker.consume(finish))))
        while True:
            with contextlib.suppress(SendTaskError):
                await self.broker.publish("probe.record", {"n": -1})
                break
            await asyncio.sleep(0.1)
        await asyncio.wait_for(self.probe.warm.wait(), 20)
        await asyncio.sleep(0.2)  # a warm-up whose publish failed late may still be running

    async def stop_consuming(self) -> None:
        for finish, task in self.consumers:
            finish.set()
            await asyncio.wait_for(task, 15)
        self.consumers.clear()

    async def publish(self, count: int, first: int = 0) -> None:
        await asyncio.gather(*(self.broker.publish("probe.record", {"n": first + i}) for i in range(count)))

    async def upkeep(self, claim_seconds: float = CLAIM_SECONDS) -> Any:
        me = self.broker.taskiq.consumer_name  # type: ignore[attr-defined]
        return await upkeep(self.redis, self.name, self.group, me, int(claim_seconds * 1000))

    async def take(self, consumer: str, count: int) -> int:
        """Read up to ``count`` new entries as ``consumer`` and never acknowledge them; how many."""
        taken: Any = await self.redis.xreadgroup(self.group, consumer, {self.name: ">"}, count=count)
        return len(taken[0][1]) if taken else 0

    async def pending(self) -> int:
        return int((await self.redis.xpending(self.name, self.group))["pending"])

    async def consumer_names(self) -> set[str]:
        return {c["name"].decode() for c in await self.redis.xinfo_consumers(self.name, self.group)}


@pytest.fixture
async def stream(settings: Settings) -> AsyncIterator[Stream]:
    name = f"tgo-test-stream-{uuid.uuid4().hex[:10]}"
    probe = Probe()
    runtime = build_runtime(
        settings.model_copy(
            update={
                "broker_url": REDIS_URL,
                "queue_name": name,
                "redis_stream_claim_seconds": CLAIM_SECONDS,
                "worker_stop_seconds": 5.0,
            }
        ),
        parts=[*PARTS, Part(name="probe", tasks={"probe.record": probe.record})],
    )
    broker = runtime.broker.get()
    await broker.start()  # declares the consumer group: entries published from now on are read
    redis = Redis.from_url(REDIS_URL)
    s = Stream(runtime, broker, redis, probe, name, group=name)
    try:
        yield s
    finally:
        await s.stop_consuming()
        await runtime.close()
        await redis.delete(name)
        await redis.aclose()


async def until(condition: Any, what: Any, timeout: float = 20.0) -> None:
    """Wait for ``condition()``; ``what()`` says what was seen when it never came."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        assert loop.time() < deadline, what()
        await asyncio.sleep(0.05)


async def test_acknowledged_entries_are_trimmed_and_unread_ones_kept(stream: Stream) -> None:
    await stream.consume()
    await stream.publish(500)

    async def all_acknowledged() -> bool:
        return len(stream.probe.seen) == 500 and await stream.pending() == 0

    await until(all_acknowledged, lambda: f"ran {len(stream.probe.seen)} of 500")
    kept = await stream.redis.xlen(stream.name)
    assert kept >= 500  # the library keeps every acknowledged entry (and the warm-up's)
    done = await stream.upkeep()
    assert done.trimmed == kept and await stream.redis.xlen(stream.name) == 0

    # Entries no one has read yet are never trimmed, nor those taken and not yet acknowledged.
    await stream.stop_consuming()
    await stream.publish(50, first=500)
    assert await stream.take("busy-worker", 10) == 10
    assert (await stream.upkeep()).trimmed == 0
    assert await stream.redis.xlen(stream.name) == 50

    # Jobs flowing while upkeep runs: each runs once, and the stream ends empty.
    await stream.consume()
    await stream.publish(300, first=550)

    async def flowing_done() -> bool:
        # The busy worker's 10 are handed back once they are a claim time old. The claim time here is longer
        # than the live consumer's backlog can be on a loaded 2-core host: an entry the consumer has read and
        # not yet run is a claim time old after 1 s of backlog (the full suite once ran 945 of 850: such
        # entries handed back and run twice), which is what a claim time shorter than the jobs' queueing means.
        await stream.upkeep(FLOWING_CLAIM_SECONDS)
        return len(stream.probe.seen) == 850 and await stream.pending() == 0

    await until(flowing_done, lambda: f"ran {len(stream.probe.seen)} of 850")
    await stream.upkeep()
    assert sorted(stream.probe.seen) == list(range(850))
    assert await stream.redis.xlen(stream.name) == 0


async def test_a_dead_consumers_pending_entries_run_on_another_worker_and_it_leaves_the_group(
    stream: Stream,
) -> None:
    await stream.publish(3)
    # A worker took them and was killed before acknowledging (what SIGKILL leaves in the group).
    assert await stream.take("killed-worker", 10) == 3
    # Another worker, on a quiet stream: no new job comes to wake the library's own reclaim.
    await stream.consume()
    early = await stream.upkeep()  # before the claim time: the entries are the dead worker's still
    assert (early.reclaimed, early.forgotten) == (0, [])
    await asyncio.sleep(0.5)
    assert stream.probe.seen == []
    await asyncio.sleep(CLAIM_SECONDS)
    await keep_redis_stream(stream.runtime)  # the periodic job every worker runs

    async def ran_all() -> bool:
        return sorted(stream.probe.seen) == [0, 1, 2] and await stream.pending() == 0

    await until(ran_all, lambda: f"ran {stream.probe.seen}")
    names = await stream.consumer_names()
    assert "killed-worker" not in names
    assert stream.broker.taskiq.consumer_name in names  # type: ignore[attr-defined]
    await asyncio.sleep(0.5)
    assert sorted(stream.probe.seen) == [0, 1, 2]  # each once


async def test_a_stopping_worker_hands_back_what_it_read_and_never_ran(stream: Stream) -> None:
    await stream.publish(4)
    assert await stream.take("stopping-worker", 10) == 4  # read, never started: its jobs have all ended
    await stream.consume()
    assert await hand_back(stream.redis, stream.name, stream.group, "stopping-worker") == 4

    async def ran_all() -> bool:
        return sorted(stream.probe.seen) == [0, 1, 2, 3] and await stream.pending() == 0

    # Well before the claim time (1 s): handed back, not reclaimed.
    await until(ran_all, lambda: f"ran {stream.probe.seen}", timeout=CLAIM_SECONDS * 0.8)
    assert await hand_back(stream.redis, stream.name, stream.group, "stopping-worker") == 0
