"""JSON logs with a request id, Prometheus metrics, and the ASGI middleware that ties them together."""

from __future__ import annotations

import logging
import logging.config
import re
import sys
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, cast

import structlog
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from tgo.metrics import HTTP_LATENCY, HTTP_REQUESTS

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def _renderer(json: bool) -> Any:
    # format_exc_info turns an exception into one "exception" string (the traceback, no local variables),
    # which the JSON renderer escapes: one line per event, whatever it carries.
    if json:
        return structlog.processors.JSONRenderer()
    return structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)


_FORMAT = {"json": True}


def configure_logging(level: str = "INFO", json: bool = True) -> None:
    """structlog events and every standard-library logger (uvicorn, taskiq, aio-pika, ...) as the same
    lines on stderr: JSON objects with ``event``, ``level``, ``timestamp`` and the bound context
    (``request_id``, ``message_id``), an exception as one ``exception`` field with its traceback."""
    numeric = logging.getLevelName(level.upper())
    _FORMAT["json"] = json
    structlog.configure(
        processors=[*_shared_processors(), structlog.processors.format_exc_info, _renderer(json)],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=_Stderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
    logging.config.dictConfig(stdlib_log_config(level, json))
    _ACCESS_LOG[0] = _AccessLog(enabled=numeric <= logging.INFO, json=json)


def announce(event: str, **fields: Any) -> None:
    """A line the operator sees whatever TGO_LOG_LEVEL filters (a process saying it started), in the same
    format as the log."""
    announcer = structlog.wrap_logger(
        structlog.PrintLogger(file=_Stderr()),  # type: ignore[arg-type]
        processors=[*_shared_processors(), _renderer(_FORMAT["json"])],
        wrapper_class=structlog.make_filtering_bound_logger(logging.NOTSET),
    )
    announcer.info(event, **fields)


def stdlib_log_config(level: str = "INFO", json: bool = True) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` mapping (also uvicorn's ``log_config``) that renders every
    standard-library record through structlog's processors, like our own events."""
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"tgo": {"()": "tgo.observability.stdlib_formatter", "json": json}},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "tgo", "stream": "ext://sys.stderr"}
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            # uvicorn's loggers carry their own handlers by default: route them to the root one.
            name: {"handlers": [], "level": level, "propagate": True}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
        },
    }


def stdlib_formatter(json: bool = True) -> logging.Formatter:
    """A logging.Formatter producing our log lines from standard-library records."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_shared_processors(), structlog.stdlib.add_logger_name],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _renderer(json),
        ],
    )


class _Stderr:
    """Resolves sys.stderr on every write, so redirection (and test capture) always sees our logs."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


log = structlog.get_logger("tgo.http")


# structlog's own renderer, called once per line instead of through the processor chain.
_ACCESS_RENDERER = structlog.processors.JSONRenderer()


class _AccessLog:
    """The one line per request, at level info. In the JSON format it is written directly: the same object
    structlog's processors make (the fields, ``event``, the bound context, ``level``, ``timestamp``), rendered by
    structlog's JSONRenderer, without the processor chain around it. The console format goes through
    structlog."""

    def __init__(self, *, enabled: bool, json: bool) -> None:
        self.enabled = enabled
        # A bound logger, not the module's proxy: the proxy assembles a new bound logger on every call
        # (``cache_logger_on_first_use`` is off so that configuring again takes effect).
        self.console = None if json else structlog.get_logger("tgo.http").bind()

    def line(self, fields: dict[str, Any]) -> None:
        if not self.enabled:
            return
        if self.console is not None:
            self.console.info("request", **fields)
            return
        # The order of structlog's: the fields, the event, the bound context (a field wins), level, timestamp.
        event = fields
        event["event"] = "request"
        for key, value in structlog.contextvars.get_contextvars().items():
            event.setdefault(key, value)
        event["level"] = "info"
        event["timestamp"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        rendered = cast(str, _ACCESS_RENDERER(None, "info", event))  # json.dumps: str
        sys.stderr.write(rendered + "\n")


# Replaced by configure_logging with one that follows its configuration.
_ACCESS_LOG: list[_AccessLog] = [_AccessLog(enabled=True, json=True)]


# Headers for the response of the request being handled (set per request by request_id_middleware, so a
# guard can add them to whatever response follows, an error's included).
_RESPONSE_HEADERS: ContextVar[dict[str, str] | None] = ContextVar("tgo_response_headers", default=None)


# Fields for the request's log line, added by whatever handles it (the id of the message a send accepted).
_REQUEST_LOG: ContextVar[dict[str, Any] | None] = ContextVar("tgo_request_log", default=None)


def add_request_log_fields(**fields: Any) -> None:
    """Add ``fields`` to the current request's log line (no-op outside a request)."""
    current = _REQUEST_LOG.get()
    if current is not None:
        current.update(fields)


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
        log_fields: dict[str, Any] = {}
        log_token = _REQUEST_LOG.set(log_fields)
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
            HTTP_REQUESTS.labels(scope["method"], route, str(status)).inc()
            HTTP_LATENCY.labels(scope["method"], route).observe(elapsed)
            _ACCESS_LOG[0].line(
                {
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    **log_fields,
                }
            )
            structlog.contextvars.unbind_contextvars("request_id")
            _RESPONSE_HEADERS.reset(extra_token)
            _REQUEST_LOG.reset(log_token)

    return middleware


def _route_label(scope: dict[str, Any]) -> str:
    handler = scope.get("route_handler")
    paths = getattr(handler, "paths", None)
    if paths:
        return str(sorted(paths)[0])
    return "unmatched"
