"""A RabbitMQ broker that cannot be reached (refused, or a peer that never answers within the readiness
check's time) leaves no connection behind: aio-pika's ``connect_robust`` drops the failed connection unclosed,
and its ``__del__`` later scheduled ``close()`` on whatever loop was current — the never-awaited coroutine
RuntimeWarning that landed on an unrelated test (tests/test_observability.py's Connect routes test)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator

import pytest
from aio_pika import RobustConnection

from tgo.config import Settings
from tgo.wiring import build_runtime


def _unclosed() -> set[int]:
    gc.collect()
    return {id(o) for o in gc.get_objects() if isinstance(o, RobustConnection) and not o.is_closed}


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A TCP port that accepts and then says nothing (a broker behind a frozen path)."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


@pytest.mark.parametrize("where", ["refused", "silent"])
async def test_a_failed_broker_start_leaves_no_open_connection(
    settings: Settings, silent_port: int, where: str
) -> None:
    port = 9 if where == "refused" else silent_port
    down = settings.model_copy(update={"broker_url": f"amqp://guest:guest@127.0.0.1:{port}/"})
    before = _unclosed()
    runtime = build_runtime(down)
    try:
        broker = runtime.broker.get()
        for _ in range(2):  # a second check (the next /readyz) starts again, and leaves nothing either
            state = await broker.check(0.5)
            assert state["broker"] == "unavailable", state
    finally:
        await runtime.close()
    assert _unclosed() - before == set()
