"""Liveness, readiness and metrics endpoints (no authentication)."""

from __future__ import annotations

from typing import Any

from litestar import Response, get
from litestar.datastructures import State
from sqlalchemy import text

from tgo.observability import metrics_payload


@get("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", include_in_schema=False)
async def readyz(state: State) -> Response[Any]:
    try:
        async with state.db.session_scope() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:  # readiness reports any failure, it never raises
        return Response({"status": "unavailable", "database": type(exc).__name__}, status_code=503)
    return Response({"status": "ok", "database": "ok"})


@get("/metrics", include_in_schema=False, media_type="text/plain")
async def metrics() -> Response[bytes]:
    payload, content_type = metrics_payload()
    return Response(payload, media_type=content_type)
