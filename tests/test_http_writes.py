"""``tgo.http_writes.JoinedWrites``: what a connection writes during one pass of the event loop reaches the
transport as one write, in order, at the next pass; closing writes what waits first; and a real `tgo serve`
protocol (``GuardedHttpToolsProtocol``) answers keep-alive and pipelined requests whole through it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import uvicorn

from tests.fixtures.processes import free_port
from tgo.http_guard import GuardedHttpToolsProtocol
from tgo.http_writes import JoinedWrites


class FakeTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: bytes) -> None:
        assert not self.closed, "written after close"
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 1)}.get(name, default)


def _joined() -> tuple[JoinedWrites, FakeTransport]:
    transport = FakeTransport()
    return JoinedWrites(transport, asyncio.get_running_loop()), transport  # type: ignore[arg-type]


async def test_the_writes_of_one_pass_are_one_write_at_the_next() -> None:
    joined, transport = _joined()
    joined.write(b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n")
    joined.write(b"{}")
    assert transport.writes == [] and joined.get_write_buffer_size() == 45
    await asyncio.sleep(0)
    assert transport.writes == [b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}"]
    joined.write(b"next")  # a later pass: a write of its own
    await asyncio.sleep(0)
    assert transport.writes[1:] == [b"next"]
    assert joined.get_extra_info("peername") == ("127.0.0.1", 1)  # the rest is the transport's


async def test_past_the_join_limit_it_is_written_at_once() -> None:
    """A response streamed without yielding to the loop still reaches the transport (and its flow control)."""
    joined, transport = _joined()
    chunk = b"x" * 40_000
    joined.write(chunk)
    assert transport.writes == []
    joined.write(chunk)  # 80,000 bytes waiting: past JOIN_LIMIT
    assert transport.writes == [chunk + chunk] and joined.get_write_buffer_size() == 0
    await asyncio.sleep(0)  # the flush scheduled with the first write finds nothing left
    assert len(transport.writes) == 1


async def test_close_writes_what_waits_first_and_abort_drops_it() -> None:
    joined, transport = _joined()
    joined.write(b"HTTP/1.1 408 Request Timeout\r\n\r\n")
    joined.close()
    assert transport.writes == [b"HTTP/1.1 408 Request Timeout\r\n\r\n"] and transport.closed
    await asyncio.sleep(0)  # the flush already scheduled finds nothing (and writes nothing after close)
    assert len(transport.writes) == 1

    joined, transport = _joined()
    joined.write(b"partial")
    joined.abort()
    await asyncio.sleep(0)
    assert transport.writes == [] and transport.aborted


async def _hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = f"hello {scope['path']}".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


@pytest.fixture
async def server() -> Any:
    port = free_port()
    config = uvicorn.Config(
        _hello,
        host="127.0.0.1",
        port=port,
        http=GuardedHttpToolsProtocol,
        log_level="warning",
        lifespan="off",
    )
    srv = uvicorn.Server(config)
    task = asyncio.ensure_future(srv.serve())
    while not srv.started:
        await asyncio.sleep(0.01)
    yield port
    srv.should_exit = True
    await task


async def test_a_real_server_answers_keep_alive_and_pipelined_requests_whole(server: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    try:
        writer.write(b"GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        answers = []
        for _ in range(2):
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert head.startswith(b"HTTP/1.1 200 OK\r\n")
            length = int(
                next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")).split(b":")[1]
            )
            answers.append(await asyncio.wait_for(reader.readexactly(length), 5))
        assert answers == [b"hello /one", b"hello /two"]
        writer.write(
            b"GET /three HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )  # the same connection, kept alive
        await writer.drain()
        rest = await asyncio.wait_for(reader.read(), 5)  # closed by the server once answered: nothing lost
        assert rest.startswith(b"HTTP/1.1 200 OK\r\n") and rest.endswith(b"hello /three")
    finally:
        writer.close()
