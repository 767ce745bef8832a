"""JSON logs with a request id, Prometheus metrics, and the ASGI middleware that ties them together."""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from typing import Any

import structlog
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

REQUESTS = Counter("tgo_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "tgo_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def configure_logging(level: str = "INFO", json: bool = True) -> None:
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False),
    ]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=_Stderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )


class _Stderr:
    """Resolves sys.stderr on every write, so redirection (and test capture) always sees our logs."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


log = structlog.get_logger("tgo.http")


def metrics_payload() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST


# Headers for the response of the request being handled (set per request by request_id_middleware, so a
# guard can add them to whatever response follows, an error's included).
_RESPONSE_HEADERS: ContextVar[dict[str, str] | None] = ContextVar("tgo_response_headers", default=None)


def add_response_headers(headers: dict[str, str]) -> None:
    """Add ``headers`` to the response of the current request (no-op outside a request)."""
    current = _RESPONSE_HEADERS.get()
    if current is not None:
        current.update(headers)


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    """Accept a sane ``X-Request-Id`` (or make one), echo it, log one line per request, count it."""

    async def middleware(asgi_scope: Scope, receive: Receive, send: Send) -> None:
        scope: dict[str, Any] = asgi_scope  # type: ignore[assignment]
        if scope["type"] != "http":
            await app(asgi_scope, receive, send)
            return
        incoming = [v for k, v in scope["headers"] if k == b"x-request-id"]
        rid = incoming[0].decode("latin-1") if len(incoming) == 1 else ""
        if not _REQUEST_ID.fullmatch(rid):
            rid = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        structlog.contextvars.bind_contextvars(request_id=rid)
        extra: dict[str, str] = {}
        extra_token = _RESPONSE_HEADERS.set(extra)
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", rid.encode()))
                # Headers a guard left for whatever response follows (the RateLimit headers).
                if extra:
                    present = {k.lower() for k, _ in headers}
                    headers.extend(
                        (k.lower().encode(), v.encode())
                        for k, v in extra.items()
                        if k.lower().encode() not in present
                    )
                message["headers"] = headers
            await send(message)

        try:
            await app(asgi_scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("path_template") or _route_label(scope)
            REQUESTS.labels(scope["method"], route, str(status)).inc()
            LATENCY.labels(scope["method"], route).observe(elapsed)
            log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )
            structlog.contextvars.unbind_contextvars("request_id")
            _RESPONSE_HEADERS.reset(extra_token)

    return middleware


def _route_label(scope: dict[str, Any]) -> str:
    handler = scope.get("route_handler")
    paths = getattr(handler, "paths", None)
    if paths:
        return str(sorted(paths)[0])
    return "unmatched"
