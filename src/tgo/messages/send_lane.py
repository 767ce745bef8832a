"""The plain JSON send below Litestar's handler machinery (issue 15): ``POST /api/v1/messages`` with
``Content-Type: application/json``, a ``Content-Length`` within TGO_MAX_JSON_BODY_BYTES and no
``Idempotency-Key`` — what nearly every send is — is answered by this handler middleware instead of Litestar's
route handling (the Request object, the guard's call through ``authorize_connection``, the kwargs model, the
handler, ``to_response``).

It runs the same parts, in the same order, that the handler would: the route's guards (401, 429, 403 before
the body is read), the body (``send_body.json_send_request``: 413, 400, 422), ``service.send_batched``, then
the 201 with the same body and headers as the handler's ``Response``. Every other request (multipart, another
content type, an idempotency key, no length) goes on to the handler unchanged. Errors are raised into Litestar's
own exception handling, set just around this lane so that the route's middleware (the request id, the
rate-limit headers, the access line) sees their responses as it sees the handler's.

Measured (bench.profile_send, same run): see bench/README.md, "the send lane"."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar._asgi.utils import wrap_in_exception_handler
from litestar.connection import ASGIConnection
from litestar.types import ASGIApp, HTTPResponseBodyEvent, HTTPResponseStartEvent, Receive, Scope, Send

from tgo.auth.api_key import AUTH_STATE
from tgo.errors import PayloadTooLarge
from tgo.messages import service
from tgo.messages.send_body import json_send_request
from tgo.runtime import Runtime

_JSON = b"application/json"
_ENCODER = msgspec.json.Encoder()


def send_lane(app: ASGIApp) -> ASGIApp:
    """The send handler's middleware (``app`` is Litestar's handling of the route). Wrapped in Litestar's own
    exception middleware, as Litestar wraps a route's handling when the route has middleware (an internal
    function of Litestar 2.25, pinned in the lock file)."""
    return wrap_in_exception_handler(_SendLane(app))


class _SendLane:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, asgi_scope: Scope, receive: Receive, send: Send) -> None:
        scope: dict[str, Any] = asgi_scope  # type: ignore[assignment]
        runtime: Runtime = scope["litestar_app"].state.runtime
        limit = runtime.settings.max_json_body_bytes
        if not _plain_json_send(scope["headers"], limit):
            await self.app(asgi_scope, receive, send)
            return
        handler = scope["route_handler"]
        connection: ASGIConnection[Any, Any, Any, Any] = ASGIConnection(asgi_scope, receive)
        for guard in handler.resolve_guards():
            await guard(connection, handler)
        raw = await _body(receive, limit)
        req = json_send_request(raw, limit, runtime.settings.max_json_depth)
        view = (await service.send_batched(runtime, scope["state"][AUTH_STATE], req)).view
        body = _ENCODER.encode(view)
        start: HTTPResponseStartEvent = {
            "type": "http.response.start",
            "status": 201,
            "headers": [
                (b"location", b"/api/v1/messages/%d" % view.id),
                (b"content-type", _JSON),
                (b"content-length", b"%d" % len(body)),
            ],
        }
        await send(start)
        end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
        await send(end)


def _plain_json_send(headers: list[tuple[bytes, bytes]], limit: int) -> bool:
    """Whether the request is a plain JSON send, which this lane answers (else the handler does)."""
    content_type = length = None
    for name, value in headers:
        if name == b"content-type":
            if content_type is not None:
                return False
            content_type = value
        elif name == b"content-length":
            if length is not None or not value.isdigit():
                return False
            length = int(value)
        elif name in (b"idempotency-key", b"transfer-encoding"):
            return False
    return content_type == _JSON and length is not None and length <= limit


async def _body(receive: Receive, limit: int) -> bytes:
    """The whole body (the body timeout and the disconnect rule are in the route middleware's receive)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk: bytes = message.get("body", b"")  # type: ignore[assignment]
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge()
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
