"""`tgo worker` started while RabbitMQ does not answer (a frozen network path): it starts anyway, says the
broker is not reachable yet, and is consuming once the path thaws — no restart needed."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import aio_pika
import pytest

from tests.fixtures.amqp import AMQP_URL, delete_queues, queue_name
from tests.fixtures.processes import Proc, process_env
from tests.fixtures.tcp import FreezableRelay
from tgo.config import Settings
from tgo.wiring import build_runtime

pytestmark = [pytest.mark.postgres_only, pytest.mark.e2e]


async def consumers(queue: str) -> int:
    with contextlib.suppress(Exception):
        async with asyncio.timeout(10):
            connection = await aio_pika.connect(AMQP_URL, timeout=5)
            async with connection:
                channel = await connection.channel()
                declared = await channel.declare_queue(queue, passive=True)
                return int(declared.declaration_result.consumer_count or 0)
    return 0


async def test_a_worker_started_against_a_frozen_broker_consumes_once_it_thaws(
    db_url: str, settings: Settings, tmp_path: Path
) -> None:
    relay = FreezableRelay("127.0.0.1", 5672)
    await relay.start()
    relay.freeze()
    queue = queue_name("tgo_e2e_start")
    env = process_env(
        db_url,
        build_runtime(settings).settings.secret(),
        tmp_path / "d",
        TGO_BROKER_URL=f"amqp://guest:guest@127.0.0.1:{relay.port}/",
        TGO_QUEUE_NAME=queue,
        TGO_PUBLISH_TIMEOUT_SECONDS="1",
        TGO_LOG_LEVEL="WARNING",
    )
    worker = Proc("worker", ["worker"], env, tmp_path).start()
    try:
        for _ in range(150):
            if "worker started" in worker.tail():
                break
            assert worker.proc is not None and worker.proc.poll() is None, worker.tail()
            await asyncio.sleep(0.1)
        log = worker.tail()
        assert "broker not reachable yet" in log and "worker started" in log, log
        relay.thaw()
        for _ in range(120):
            if await consumers(queue) >= 1:
                break
            await asyncio.sleep(0.5)
        assert await consumers(queue) >= 1, worker.tail()
    finally:
        try:
            worker.stop()
        finally:
            await relay.stop()
            await delete_queues(queue)
