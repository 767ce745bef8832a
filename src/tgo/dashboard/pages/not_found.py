"""Any other address under /dashboard, with any method: a 404 page in the dashboard's look and the
user's language (not the API's JSON, nor a 405 for a form posted to a wrong address)."""

from __future__ import annotations

from typing import Any

from litestar import HttpMethod, Response, route

from tgo.dashboard.web import Web


@route(
    "/{rest:path}",
    http_method=[HttpMethod.GET, HttpMethod.POST, HttpMethod.PUT, HttpMethod.PATCH, HttpMethod.DELETE],
    name="dashboard:not-found",
)
async def not_found(web: Web, rest: str) -> Response[Any]:
    return web.render(
        "error.html", status_code=404, title=web.t("dash.not_found.title"), message=web.t("dash.not_found")
    )


HANDLERS = [not_found]
