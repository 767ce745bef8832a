"""Health, readiness and metrics routes of `tgo serve` and `tgo connect serve` (in process), and the log lines
every process writes (standard-library records included)."""

from __future__ import annotations

import json
import logging
import re
from typing import Any, cast

import httpx
import pytest
import structlog
from prometheus_client import CONTENT_TYPE_LATEST

from tgo.app import create_app
from tgo.config import Settings
from tgo.wiring import build_runtime


async def test_metrics_content_type_names_its_charset_once(client: httpx.AsyncClient) -> None:
    r = await client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"] == CONTENT_TYPE_LATEST  # text/plain; version=...; charset=utf-8
    assert r.headers["content-type"].count("charset") == 1


async def test_readyz_reports_the_in_process_broker(client: httpx.AsyncClient) -> None:
    r = await client.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok", "broker": "ok"}


async def test_readyz_reports_a_broker_outage_and_stays_ready(settings: Settings) -> None:
    """The API still accepts sends while the broker is down, so the outage is reported, not a 503."""
    down = settings.model_copy(
        update={"broker_url": "amqp://guest:guest@127.0.0.1:9/", "publish_timeout_seconds": 1.0}
    )
    rt = build_runtime(down)
    app = create_app(down, rt)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=cast(Any, app)), base_url="http://t.local"
        ) as c:
            r = await c.get("/readyz")
    finally:
        await rt.close()
    assert r.status_code == 200
    body = r.json()
    assert (body["status"], body["database"], body["broker"]) == ("ok", "ok", "unavailable")
    assert body["broker_error"]


async def test_connect_serve_has_the_health_and_metrics_routes(settings: Settings) -> None:
    from tgo.connect_network.app import create_connect_app
    from tgo.connect_network.network import connect_database_url
    from tgo.db import Database

    db = Database(connect_database_url(settings), name="connect")
    app = create_connect_app(settings, db)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=cast(Any, app)), base_url="http://t.local"
        ) as c:
            assert (await c.get("/healthz")).json() == {"status": "ok"}
            assert (await c.get("/connect/healthz")).json() == {"status": "ok"}
            ready = await c.get("/readyz")
            assert ready.status_code == 200 and ready.json() == {"status": "ok", "database": "ok"}
            r = await c.get("/metrics")
            assert r.headers["content-type"] == CONTENT_TYPE_LATEST
            assert 'tgo_http_requests_total{method="GET",route="/readyz",status="200"}' in r.text
            assert "tgo_db_connections_in_use" in r.text
    finally:
        await db.dispose()


def test_standard_library_records_are_the_same_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    from tgo.observability import configure_logging

    configure_logging("INFO", json=True)
    try:
        structlog.contextvars.bind_contextvars(request_id="r-1")
        logging.getLogger("uvicorn.error").info("Started server process [%d]", 42)
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("taskiq").exception("task crashed")
            structlog.get_logger("tgo.worker").exception("task_failed", task="messages.deliver")
    finally:
        structlog.contextvars.unbind_contextvars("request_id")
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 3, lines
    started, crashed, failed = (json.loads(line) for line in lines)
    assert started["event"] == "Started server process [42]" and started["logger"] == "uvicorn.error"
    assert started["level"] == "info" and started["request_id"] == "r-1" and started["timestamp"]
    for record in (crashed, failed):
        assert record["level"] == "error" and record["request_id"] == "r-1"
        assert record["exception"].startswith("Traceback (most recent call last):")
        assert record["exception"].rstrip().endswith("ValueError: boom")


async def test_a_started_api_process_leaves_its_start_up_heap_out_of_collections(settings: Settings) -> None:
    """The app's own lifespan (``tgo serve``) freezes the heap once started (tgo.kit.heap): a full collection
    then skips the ~10⁶ objects of start-up instead of walking them every few hundred requests; and the
    youngest generation is collected less often."""
    import gc

    from litestar.testing import AsyncTestClient

    from tgo.kit.heap import THRESHOLDS

    frozen_by_the_run = gc.get_freeze_count() > 0  # conftest's pytest_collection_finish
    thresholds = gc.get_threshold()
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    try:
        async with AsyncTestClient(app=create_app(settings)) as c:  # runs the lifespan: build, start, freeze
            assert (await c.get("/healthz")).status_code == 200
            assert gc.get_freeze_count() > 100_000
            assert gc.get_threshold() == THRESHOLDS
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
        if frozen_by_the_run:
            gc.freeze()


def _access_lines(level: str, json_format: bool, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The lines one request through request_id_middleware writes under ``configure_logging(level, json)``."""
    import asyncio

    from tgo.observability import add_request_log_fields, configure_logging, request_id_middleware

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        add_request_log_fields(message_id="m-1", odd=object.__new__(type("Odd", (), {})))
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def sink(message: Any) -> None:
        return None

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/messages",
        "headers": [(b"x-request-id", b"r-9")],
    }
    configure_logging(level, json=json_format)
    try:
        capsys.readouterr()
        structlog.contextvars.bind_contextvars(tenant="t-1")
        asyncio.run(request_id_middleware(inner)(scope, None, sink))  # type: ignore[arg-type]
    finally:
        structlog.contextvars.unbind_contextvars("tenant")
        configure_logging("INFO", json=True)
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def test_the_access_line_is_the_object_structlog_renders(capsys: pytest.CaptureFixture[str]) -> None:
    (line,) = _access_lines("INFO", True, capsys)
    record = json.loads(line)
    # The same object, keys in the same order, as structlog's JSON processors render for this event.
    keys = list(record)  # the bound context comes in the context's own order (a hash map's)
    assert keys[:7] == ["method", "path", "status", "duration_ms", "message_id", "odd", "event"]
    assert set(keys[7:9]) == {"tenant", "request_id"} and keys[9:] == ["level", "timestamp"]
    fields = {
        k: v for k, v in record.items() if k not in ("event", "tenant", "request_id", "level", "timestamp")
    }
    structlog.contextvars.bind_contextvars(tenant="t-1", request_id="r-9")
    try:
        structlog.get_logger("tgo.http").info("request", **fields)
    finally:
        structlog.contextvars.unbind_contextvars("tenant", "request_id")
    rendered = capsys.readouterr().err.strip()
    # The same line, byte for byte, but for the time.
    stamp = re.compile(r'"timestamp": "[^"]+"')
    assert stamp.sub("T", rendered) == stamp.sub("T", line)
    assert record["tenant"] == "t-1" and record["request_id"] == "r-9"
    assert (record["method"], record["path"], record["status"]) == ("POST", "/api/v1/messages", 201)
    assert isinstance(record["duration_ms"], float) and record["message_id"] == "m-1"
    assert record["odd"].startswith("<") and "Odd" in record["odd"]  # repr, as JSONRenderer's default=repr
    assert (record["event"], record["level"]) == ("request", "info")
    # TimeStamper(fmt="iso", utc=True)'s form.
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z", record["timestamp"]), record


def test_the_access_line_follows_the_console_format_and_the_level(capsys: pytest.CaptureFixture[str]) -> None:
    (line,) = _access_lines("INFO", False, capsys)
    assert not line.startswith("{")
    assert (
        "request" in line and "status=201" in line and "request_id=r-9" in line and "message_id=m-1" in line
    )
    assert _access_lines("WARNING", True, capsys) == []
