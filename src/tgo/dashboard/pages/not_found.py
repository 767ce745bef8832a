"""Any other address under /dashboard: a 404 page in the dashboard's look (not the API's JSON)."""

from __future__ import annotations

from typing import Any

from litestar import Response, get

from tgo.dashboard.web import Web


@get("/{rest:path}", name="dashboard:not-found")
async def not_found(web: Web, rest: str) -> Response[Any]:
    return web.render(
        "error.html", status_code=404, title=web.t("dash.not_found.title"), message=web.t("dash.not_found")
    )


HANDLERS = [not_found]
