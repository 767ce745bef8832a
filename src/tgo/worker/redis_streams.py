"""Upkeep of the Redis stream that carries jobs when TGO_BROKER_URL is redis:// (taskiq-redis's
``RedisStreamBroker``), run by every worker as a periodic job:

- **reclaim**: an entry a consumer took and never acknowledged for TGO_REDIS_STREAM_CLAIM_SECONDS (its worker
  was killed) is claimed (``XAUTOCLAIM``), added again at the stream's end for any worker to take, and
  acknowledged and deleted in the same transaction. taskiq-redis reclaims only right after a read that
  returned new entries, so on a quiet stream a dead worker's jobs waited for the next job to arrive.
- **forget consumers that are gone**: a consumer with nothing pending and idle that long is deleted
  (``XGROUP DELCONSUMER``, checked and done in one script, so a consumer that reads meanwhile keeps its
  entries). Every worker process is a new consumer; without this the group lists every process ever run.
- **trim acknowledged entries**: ``XTRIM MINID`` up to the oldest entry still needed (the oldest pending one,
  else the first not yet delivered). taskiq-redis's ``maxlen`` trims by count, also entries never read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from tgo.runtime import Runtime

log = structlog.get_logger("tgo.worker")

RECLAIM_BATCH = 100
RECLAIM_MAX_BATCHES = 20  # per pass; the next pass goes on

# Deletes the group's consumers (but this one) that have nothing pending and have been idle at least ARGV[3]
# ms; atomic, so none reads an entry between the check and the delete (its pending entries would be lost).
FORGET_GONE_CONSUMERS = """
local gone = {}
for _, consumer in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local field = {}
  for i = 1, #consumer, 2 do field[consumer[i]] = consumer[i + 1] end
  if field['name'] ~= ARGV[2] and field['pending'] == 0 and field['idle'] >= tonumber(ARGV[3]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], field['name'])
    table.insert(gone, field['name'])
  end
end
return gone
"""


@dataclass(frozen=True)
class StreamUpkeep:
    """What one pass did: entries handed back, consumers deleted, entries trimmed."""

    reclaimed: int
    forgotten: list[str]
    trimmed: int


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _next_id(entry_id: str) -> str:
    ms, _, seq = entry_id.partition("-")
    return f"{ms}-{int(seq or 0) + 1}"


def _older(a: str, b: str) -> str:
    def key(entry_id: str) -> tuple[int, int]:
        ms, _, seq = entry_id.partition("-")
        return int(ms), int(seq or 0)

    return a if key(a) <= key(b) else b


async def reclaim(redis: Redis, stream: str, group: str, consumer: str, idle_ms: int) -> int:
    """Hand back the entries pending longer than ``idle_ms``: each is added again at the end of the stream
    and the old one acknowledged and deleted, in one transaction. Returns how many."""
    start, moved = "0-0", 0
    for _ in range(RECLAIM_MAX_BATCHES):
        reply = await redis.xautoclaim(
            stream, group, consumer, min_idle_time=idle_ms, start_id=start, count=RECLAIM_BATCH
        )
        start, entries = _text(reply[0]), reply[1]
        ids = [entry_id for entry_id, _ in entries]
        if ids:
            async with redis.pipeline(transaction=True) as pipe:
                for _, fields in entries:
                    if fields:  # an entry deleted meanwhile comes back without its fields
                        pipe.xadd(stream, fields)
                pipe.xack(stream, group, *ids)
                pipe.xdel(stream, *ids)
                await pipe.execute()
            moved += len(ids)
        if start == "0-0":
            break
    return moved


async def hand_back(redis: Redis, stream: str, group: str, consumer: str) -> int:
    """Hand back every entry ``consumer`` holds unacknowledged (a stopping worker whose jobs have all ended:
    what it read and never started), for another worker now rather than after the claim time."""
    moved = 0
    for _ in range(RECLAIM_MAX_BATCHES):
        held = await redis.xpending_range(stream, group, "-", "+", RECLAIM_BATCH, consumername=consumer)
        ids: list[Any] = [entry["message_id"] for entry in held]
        if not ids:
            break
        entries: Any = await redis.xclaim(stream, group, consumer, 0, ids)
        async with redis.pipeline(transaction=True) as pipe:
            for _, fields in entries:
                if fields:
                    pipe.xadd(stream, fields)
            pipe.xack(stream, group, *ids)
            pipe.xdel(stream, *ids)
            await pipe.execute()
        moved += len(ids)
    return moved


async def forget_gone_consumers(
    redis: Redis, stream: str, group: str, consumer: str, idle_ms: int
) -> list[str]:
    """Delete the consumers (but ``consumer``) with nothing pending, idle at least ``idle_ms``; their names."""
    gone = await redis.eval(FORGET_GONE_CONSUMERS, 1, stream, group, consumer, str(idle_ms))
    return [_text(name) for name in gone or []]


async def trim_acknowledged(redis: Redis, stream: str) -> int:
    """Delete the entries every group has acknowledged; returns how many."""
    keep_from: str | None = None
    for info in await redis.xinfo_groups(stream):
        name, last_delivered = _text(info["name"]), _text(info["last-delivered-id"])
        needed = _next_id(last_delivered)
        if int(info["pending"]):
            summary = await redis.xpending(stream, name)
            if summary["min"] is not None:  # None: acknowledged since the group's info was read
                needed = _older(_text(summary["min"]), needed)
        keep_from = needed if keep_from is None else _older(keep_from, needed)
    if keep_from is None:
        return 0
    return int(await redis.xtrim(stream, minid=keep_from, approximate=False))


async def upkeep(redis: Redis, stream: str, group: str, consumer: str, idle_ms: int) -> StreamUpkeep:
    """One pass over ``stream``: reclaim, forget consumers that are gone, trim (see the module)."""
    try:
        reclaimed = await reclaim(redis, stream, group, consumer, idle_ms)
        forgotten = await forget_gone_consumers(redis, stream, group, consumer, idle_ms)
        trimmed = await trim_acknowledged(redis, stream)
    except ResponseError as exc:
        if "no such key" in str(exc).lower() or "nogroup" in str(exc).lower():
            return StreamUpkeep(0, [], 0)  # no stream or group yet: nothing was ever published
        raise
    return StreamUpkeep(reclaimed, forgotten, trimmed)


async def hand_back_held(runtime: Runtime) -> None:
    """At a worker's stop, once its jobs have ended: hand back the jobs it read and never ran."""
    from taskiq_redis import RedisStreamBroker

    broker = runtime.broker.get().taskiq
    if not isinstance(broker, RedisStreamBroker):
        return
    async with Redis(connection_pool=broker.connection_pool) as redis:
        moved = await hand_back(redis, broker.queue_name, broker.consumer_group_name, broker.consumer_name)
    if moved:
        log.info("redis_stream_handed_back", count=moved)


async def keep_redis_stream(runtime: Runtime) -> None:
    """Periodic job: the upkeep of the runtime's Redis stream (nothing for another broker)."""
    from taskiq_redis import RedisStreamBroker

    broker = runtime.broker.get().taskiq
    if not isinstance(broker, RedisStreamBroker):
        return
    idle_ms = int(runtime.settings.redis_stream_claim_seconds * 1000)
    async with Redis(connection_pool=broker.connection_pool) as redis:
        done = await upkeep(
            redis, broker.queue_name, broker.consumer_group_name, broker.consumer_name, idle_ms
        )
    if done.reclaimed or done.forgotten:  # a worker died: worth a line in the log
        log.warning("redis_stream_reclaimed", reclaimed=done.reclaimed, forgotten=done.forgotten)
