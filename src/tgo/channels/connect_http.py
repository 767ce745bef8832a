"""ConnectClient's transport to one Connect base URL over the network: an aiohttp session (C-accelerated
HTTP parser, kept-alive connection pool) behind a small interface that answers with status and bytes.

httpx (with httpcore and anyio underneath) cost about 17 % of the API process's CPU on the send path, one
recipient lookup per send: request and URL models, cookie and auth handling, and a connection pool that
scans its connections for every request. aiohttp (already installed with taskiq) does the same work for a
fraction of that. httpx stays for the in-process (ASGI) transport."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import msgspec

MAX_BODY = 16 * 1024 * 1024


class RemoteProtocolError(OSError):
    """The connection failed or the peer answered something that is not a usable HTTP response."""


class LeanResponse:
    __slots__ = ("content", "headers", "status_code")

    def __init__(self, status_code: int, headers: dict[str, str], content: bytes) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content

    def json(self) -> Any:
        return msgspec.json.decode(self.content)


class LeanHttpClient:
    """One aiohttp session per event loop (a session is bound to the loop that made it; CLI commands and
    tests may use several loops in one process)."""

    def __init__(
        self, base_url: str, *, headers: dict[str, str], timeout: float, max_idle: int = 100
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = headers
        self.timeout = timeout
        self.max_idle = max_idle
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    def _session_for_this_loop(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop or self._session.closed:
            self._session = aiohttp.ClientSession(
                base_url=self.base_url + "/",
                headers=self.headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                connector=aiohttp.TCPConnector(limit=self.max_idle, ttl_dns_cache=60),
                raise_for_status=False,
                auto_decompress=True,
            )
            self._loop = loop
        return self._session

    async def aclose(self) -> None:
        self._closed = True
        session, self._session = self._session, None
        if session is not None and not session.closed and self._loop is asyncio.get_running_loop():
            await session.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        content: bytes | None = None,
        content_type: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> LeanResponse:
        if self._closed:
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        session = self._session_for_this_loop()
        headers = {"content-type": content_type} if content_type is not None else None
        # A kept-alive connection the server closed just as we reused it fails before any response byte:
        # send once more on a new connection (Connect's operations are idempotent: messages by their id).
        for attempt in (1, 2):
            try:
                async with session.request(
                    method, path.lstrip("/"), data=content, headers=headers, params=params or None
                ) as resp:
                    if resp.content_length is not None and resp.content_length > MAX_BODY:
                        raise RemoteProtocolError(f"response too large: {resp.content_length} bytes")
                    chunks: list[bytes] = []
                    size = 0
                    async for chunk in resp.content.iter_any():
                        size += len(chunk)
                        if size > MAX_BODY:
                            raise RemoteProtocolError("response too large")
                        chunks.append(chunk)
                    return LeanResponse(resp.status, dict(resp.headers), b"".join(chunks))
            except aiohttp.ServerDisconnectedError as exc:
                if attempt == 2:
                    raise RemoteProtocolError(f"Server disconnected: {exc}") from exc
            except aiohttp.ClientError as exc:
                raise RemoteProtocolError(f"{type(exc).__name__}: {exc}") from exc
        raise AssertionError("unreachable")
