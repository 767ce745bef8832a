"""Timeouts where a client can hold a connection to a real `tgo serve` or `tgo connect serve` process: a connection that sends no
request, or its headers too slowly, is closed; a body that stops arriving is answered 408; idle keep-alive
connections are closed."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.conftest import MakeKey, MakeTenant
from tests.fixtures.processes import Proc, free_port, process_env, wait_http
from tgo.channels.connect_protocol import API_PATH, api_token
from tgo.runtime import Runtime

LIMIT = 1.0  # seconds, for the head, the body and keep-alive alike


async def _closed_within(reader: asyncio.StreamReader, seconds: float) -> tuple[bytes, float]:
    """Read until the server closes; what it sent and how long it took."""
    started = time.monotonic()
    data = await asyncio.wait_for(reader.read(), seconds)
    return data, time.monotonic() - started


@pytest.mark.e2e
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("server", ["api", "connect"])
async def test_slow_clients_are_cut_off(
    server: str, db_url: str, runtime: Runtime, tmp_path: Path, make_tenant: MakeTenant, make_key: MakeKey
) -> None:
    """The same guards on `tgo serve` and on `tgo connect serve` (Connect is reachable by the Business side
    over the network in scale-out)."""
    port = free_port()
    env = process_env(
        db_url,
        runtime.settings.secret(),
        tmp_path / "d",
        TGO_LOG_LEVEL="WARNING",
        TGO_HTTP_HEADER_TIMEOUT_SECONDS=str(LIMIT),
        TGO_HTTP_BODY_TIMEOUT_SECONDS=str(LIMIT),
        TGO_HTTP_KEEP_ALIVE_SECONDS=str(LIMIT),
    )
    if server == "api":
        auth = f"X-Api-Key: {await make_key(await make_tenant('acme'))}"
        proc = Proc("api", ["serve", "--port", str(port)], env, tmp_path).start()
        health, get_path, post_path = "/healthz", "/api/v1/me", "/api/v1/messages"
    else:
        auth = f"Authorization: Bearer {api_token(runtime.settings.secret())}"
        proc = Proc("connect", ["connect", "serve", "--port", str(port)], env, tmp_path).start()
        health, get_path, post_path = "/connect/healthz", "/connect/healthz", f"{API_PATH}/accounts"
    try:
        await asyncio.to_thread(wait_http, f"http://127.0.0.1:{port}{health}", 60, proc)

        # Connects and says nothing: closed.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        data, took = await _closed_within(reader, 10)
        assert data == b"" and took < LIMIT + 2
        writer.close()

        # Sends its headers a byte at a time (slowloris): closed, although it never stops sending.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        head = f"GET {get_path} HTTP/1.1\r\nHost: x\r\n{auth}\r\n".encode()
        started = time.monotonic()
        for i in range(len(head)):
            if writer.is_closing() or reader.at_eof():
                break
            writer.write(head[i : i + 1])
            try:
                await writer.drain()
            except ConnectionError:
                break
            await asyncio.sleep(0.1)
            if time.monotonic() - started > LIMIT + 3:
                break
        data, _ = await _closed_within(reader, 5)
        assert data == b"" and time.monotonic() - started < LIMIT + 3
        writer.close()

        # A body that stops arriving half way: 408, and the connection is closed.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            (
                f"POST {post_path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"{auth}\r\nContent-Length: 200\r\n\r\n"
                '{"type": "text", "con'
            ).encode()
        )
        await writer.drain()
        data, took = await _closed_within(reader, 10)
        assert data.startswith(b"HTTP/1.1 408"), data[:200]
        assert b'"code":"request_timeout"' in data
        assert took < LIMIT + 3
        writer.close()

        # A complete request is answered; the idle keep-alive connection is then closed.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET {get_path} HTTP/1.1\r\nHost: x\r\n{auth}\r\n\r\n".encode())
        await writer.drain()
        data, took = await _closed_within(reader, 10)
        assert data.startswith(b"HTTP/1.1 200"), data[:200]
        assert took < LIMIT + 3
        writer.close()
    finally:
        proc.stop()
