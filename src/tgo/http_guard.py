"""Timeouts wherever a client can hold a connection to `tgo serve` (uvicorn itself only times out idle
keep-alive connections, after TGO_HTTP_KEEP_ALIVE_SECONDS):

- the request head: a connection must deliver its request line and headers within
  TGO_HTTP_HEADER_TIMEOUT_SECONDS of connecting or of starting a request, else it is closed (slowloris);
- the request body: each part of it must arrive within TGO_HTTP_BODY_TIMEOUT_SECONDS of the previous one,
  else the request is answered 408 ``request_timeout`` and the connection closed.

Body sizes are bounded elsewhere: TGO_MAX_JSON_BODY_BYTES (Litestar's request_max_body_size) and the media
limits while an upload streams to disk."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, ReceiveMessage, Scope, Send
from litestar.utils.scope.state import ScopeState
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from tgo.errors import AppError
from tgo.http_writes import JoinedWrites

log = structlog.get_logger("tgo.http")


class RequestTimeout(AppError):
    status_code = 408
    code = "request_timeout"

    def __init__(self) -> None:
        super().__init__(headers={"Connection": "close"})


class ClientDisconnected(AppError):
    """The client closed the connection before its request's body was read: nobody is left to answer, and
    it is not the server's error. 499 is nginx's "client closed request" (the access log's status; the
    response goes nowhere)."""

    status_code = 499
    code = "client_disconnected"


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline on each request's head, writing a response's head and
    body as one (``tgo.http_writes``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from tgo.config import get_settings

        super().__init__(*args, **kwargs)
        self._head_timeout = get_settings().http_header_timeout_seconds
        self._head_timer: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(self._head_timeout, self._head_expired)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_expired(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(JoinedWrites(transport, self.loop))  # type: ignore[arg-type]
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def body_timeout(timeout: float) -> Callable[[ASGIApp], ASGIApp]:
    """A middleware that gives up on a request whose body stops arriving (408) instead of waiting forever."""

    def wrap(app: ASGIApp) -> ASGIApp:
        return _BodyTimeout(app, timeout)

    return wrap


class _BodyTimeout:
    def __init__(self, app: ASGIApp, timeout: float) -> None:
        self.app = app
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        timeout = self.timeout
        body_done = False

        async def guarded_receive() -> ReceiveMessage:
            nonlocal body_done
            if body_done:  # after the body only a disconnect can come: no deadline on waiting for it
                return await receive()
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for runs the receive in a task of its own.
            try:
                async with asyncio.timeout(timeout):
                    message = await receive()
            except TimeoutError:
                raise RequestTimeout() from None
            if message["type"] == "http.disconnect" and not ScopeState.from_scope(scope).response_started:
                # The request's body was being read (Litestar would raise a 500 "client disconnected
                # prematurely", logged as a server error). Once a response started, a disconnect is passed
                # on as is: a streaming response listens for it to stop.
                body_done = True
                log.info("client_disconnected", path=scope["path"])
                raise ClientDisconnected()
            if not message.get("more_body", False):
                body_done = True
            return message

        await self.app(scope, guarded_receive, send)
