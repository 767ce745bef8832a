"""Bad input never becomes a 500: envelope, localisation, sizes, content types, request ids."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import httpx
import pytest


async def test_unknown_path_is_404_in_envelope(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/nope")
    assert r.status_code == 404
    assert r.json() == {"message": "Not found.", "code": "not_found"}


async def test_arabic_messages(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/nope", headers={"Accept-Language": "ar-EG,ar;q=0.9,en;q=0.5"})
    assert r.json()["message"] == "غير موجود."
    r = await client.get("/api/v1/me", headers={"Accept-Language": "ar"})
    assert r.status_code == 401 and r.json()["message"] == "غير مصادق."


async def test_request_id_is_echoed_or_generated(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    r = await client.get("/healthz", headers={"X-Request-Id": "bad id with spaces"})
    assert r.headers["x-request-id"] != "bad id with spaces" and len(r.headers["x-request-id"]) == 32


async def test_oversized_body_is_413(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    r = await client.post(
        "/api/v1/me",
        content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
        headers={**headers, "Content-Type": "application/json"},
    )
    assert r.status_code in (405, 413)  # /me is GET-only; the size check must not crash either way
    assert r.status_code < 500


async def test_health_ready_metrics_docs(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["database"] == "ok"
    assert "tgo_http_requests_total" in (await client.get("/metrics")).text
    spec = (await client.get("/openapi.json")).json()
    assert spec["openapi"].startswith("3.1") and "/api/v1/me" in spec["paths"]
    assert (await client.get("/docs")).status_code == 200


async def test_readyz_reports_a_dead_database(tmp_path: Path) -> None:
    import httpx

    from tgo.app import create_app
    from tgo.config import Settings

    settings = Settings(
        data_dir=tmp_path, database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none", secret_key="x" * 32
    )
    from tgo.wiring import build_runtime

    rt = build_runtime(settings)
    app = create_app(settings, rt)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=cast(Any, app)), base_url="http://testserver.local"
    ) as c:
        r = await c.get("/readyz")
        assert r.status_code == 503
        r = await c.get("/api/v1/me", headers={"X-Api-Key": "tgo_" + "A" * 43})
        assert r.status_code == 503 and r.headers["retry-after"]
        assert r.json()["code"] == "service_unavailable"


async def test_body_validation_errors_are_keyed_by_field(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    r = await client.post("/api/v1/sender-numbers", headers=headers, json={"display_name": "x"})
    assert r.status_code == 422 and r.json()["code"] == "validation_failed"
    assert r.json()["errors"] == {"phone": ["This field is required."]}
    r = await client.post(
        "/api/v1/sender-numbers", headers={**headers, "Accept-Language": "ar"}, json={"phone": 5}
    )
    assert r.status_code == 422
    errors = r.json()["errors"]
    assert list(errors) == ["phone"] and "`str`" in errors["phone"][0]
    r = await client.post("/api/v1/sender-numbers", headers={**headers, "Accept-Language": "ar"}, json={})
    assert r.json()["errors"] == {"phone": ["هذا الحقل مطلوب."]}


@pytest.mark.postgres_only
async def test_database_outage_errors_are_told_apart_from_bad_queries(db_url: str) -> None:
    """What the API answers 503 + Retry-After for: a connection the server terminated (as a restart does),
    a server that refuses connections; a wrong query stays a 500."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DBAPIError

    from tgo.db import create_engine
    from tgo.errors import backend_unavailable

    engine = create_engine(db_url)
    try:
        async with engine.connect() as victim, engine.connect() as admin:
            pid = (await victim.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            with pytest.raises(DBAPIError) as terminated:
                await victim.execute(text("SELECT 1"))
        assert backend_unavailable(terminated.value)
        async with engine.connect() as conn:
            with pytest.raises(DBAPIError) as wrong:
                await conn.execute(text("SELECT * FROM no_such_table"))
        assert not backend_unavailable(wrong.value)
    finally:
        await engine.dispose()
    # A server that takes no more connections (53300, as when max_connections is reached): a role allowed
    # none gets exactly that error. asyncpg reports it as a plain DBAPIError, not an OperationalError.
    admin_engine = create_engine(db_url)
    try:
        async with admin_engine.begin() as conn:
            await conn.execute(
                text(
                    "DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tgo_no_conn') "
                    "THEN CREATE ROLE tgo_no_conn LOGIN CONNECTION LIMIT 0; END IF; END$$"
                )
            )
    finally:
        await admin_engine.dispose()
    url = make_url(db_url)
    full = create_engine(url.set(username="tgo_no_conn", password=None).render_as_string(hide_password=False))
    try:
        with pytest.raises(DBAPIError) as too_many:
            async with full.connect() as conn:
                await conn.execute(text("SELECT 1"))
        assert backend_unavailable(too_many.value), too_many.value
    finally:
        await full.dispose()
    refused = create_engine(url.set(port=1).render_as_string(hide_password=False))
    try:
        with pytest.raises(Exception) as down:
            async with refused.connect() as conn:
                await conn.execute(text("SELECT 1"))
        assert backend_unavailable(down.value)
    finally:
        await refused.dispose()
