"""Liveness, readiness and metrics endpoints (no authentication), shared by `tgo serve` and `tgo connect
serve`: ``state.db`` is the process's database; ``state.runtime`` (the Business app only) has the broker."""

from __future__ import annotations

from typing import Any

from litestar import Response, get
from litestar.datastructures import State
from sqlalchemy import text

from tgo.metrics import payload

# The broker's own check is bounded well below a probe's usual timeout.
BROKER_CHECK_SECONDS = 2.0


@get("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", include_in_schema=False)
async def readyz(state: State) -> Response[Any]:
    """503 only when the database is unreachable. The broker's state is reported but does not make the
    process unready: sends are still accepted while it is down (the rows are the truth and the sweepers
    publish them later), so taking the API out of service would turn a delay into an outage."""
    body: dict[str, str] = {"status": "ok", "database": "ok"}
    try:
        async with state.db.session_scope() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:  # readiness reports any failure, it never raises
        body.update(status="unavailable", database=type(exc).__name__)
    runtime = state.get("runtime")
    if runtime is not None:
        body.update(await runtime.broker.get().check(BROKER_CHECK_SECONDS))
    return Response(body, status_code=200 if body["database"] == "ok" else 503)


@get("/metrics", include_in_schema=False, media_type="text/plain")
async def metrics() -> Response[bytes]:
    data, content_type = payload()
    # Litestar appends "; charset=utf-8" to every text/* media type itself: hand it the type without one.
    media_type = "; ".join(p for p in content_type.split("; ") if not p.startswith("charset="))
    return Response(data, media_type=media_type)
