"""Health, readiness and metrics routes of `tgo serve` and `tgo connect serve` (in process), and the log lines
every process writes (standard-library records included)."""

from __future__ import annotations

import json
import logging
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
