"""What the Business app serves for Connect: the signed-event receiver, and (embedded default) the
in-process Connect network mounted at /connect (its API and the browser inbox page)."""

from __future__ import annotations

from typing import Any

from litestar import asgi
from litestar.types import Receive, Scope, Send

from tgo.channels.connect_events import ConnectEventsController
from tgo.config import Settings


@asgi("/connect", is_mount=True, copy_scope=True, include_in_schema=False)
async def embedded_connect(scope: Scope, receive: Receive, send: Send) -> None:
    app = scope["app"].state.runtime.embedded_connect.get().app
    # Litestar hands a mount the remaining path; the Connect app routes on its full /connect/... paths.
    rest = str(scope["path"]).rstrip("/")
    scope["path"] = "/connect" + rest
    await app(scope, receive, send)


def inbox_page_base(settings: Settings, server_url: str | None = None) -> str:
    """Where people open Connect's inbox page: the remote network (TGO_CONNECT_URL), else this platform's
    mount — at ``server_url`` (where the operator says `tgo serve` is reached), TGO_BUSINESS_URL, or a
    local `tgo serve` on its default port."""
    return settings.connect_url or server_url or settings.business_url or "http://127.0.0.1:8000"


def business_routes(settings: Settings) -> list[Any]:
    """Route handlers for create_app(): the receiver always; the Connect mount unless it is remote."""
    routes: list[Any] = [ConnectEventsController]
    if not settings.connect_url:
        routes.append(embedded_connect)
    return routes
