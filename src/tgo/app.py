"""create_app(): routers, middleware, error handlers; mounts the dashboard and Connect."""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Request, Response, Router, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import MethodNotAllowedException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.routes import HTTPRoute
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.apikeys.endpoints import MeController
from tgo.auth.api_key import api_key_guard, provide_auth
from tgo.config import Settings, get_settings
from tgo.connect_network.mount import business_routes as connect_routes
from tgo.contacts.endpoints import ContactController
from tgo.conversations.endpoints import ConversationController
from tgo.dashboard import create_dashboard, is_dashboard_path
from tgo.db import finish_failed, run_after_commit
from tgo.errors import exception_handler
from tgo.health import healthz, metrics, readyz
from tgo.http_guard import body_timeout
from tgo.kit.heap import freeze_startup_heap
from tgo.media.endpoints import MediaController, signed_download
from tgo.messages.endpoints import MessageController
from tgo.metrics import mark_process_dead
from tgo.observability import configure_logging, request_id_middleware
from tgo.openapi import finish_document
from tgo.optouts.endpoints import OptOutController
from tgo.request_body import request_class
from tgo.runtime import Runtime
from tgo.senders.endpoints import SenderNumberController
from tgo.sms.endpoints import SMS_CONTROLLERS
from tgo.usage.endpoints import UsageController
from tgo.webhooks.endpoints import WebhookController
from tgo.wiring import build_runtime

API_CONTROLLERS: list[Any] = [
    MeController,
    SenderNumberController,
    MessageController,
    MediaController,
    ContactController,
    UsageController,
    WebhookController,
    ConversationController,
    OptOutController,
]


async def provide_db_session(state: State) -> AsyncGenerator[AsyncSession, None]:
    """The request's transaction: committed after the handler returns, before the response is sent."""
    async with state.db.sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException as exc:
            await finish_failed(session, exc)
            raise
    await run_after_commit(session)


async def provide_runtime(state: State) -> Runtime:
    runtime: Runtime = state.runtime
    return runtime


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Litestar:
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # A runtime passed in (tests, embedding) is started and closed by its owner.
        if runtime is not None:
            yield
            return
        rt = build_runtime(settings)
        _bind(app, rt)
        await rt.start()
        freeze_startup_heap()
        try:
            yield
        finally:
            await rt.close()
            mark_process_dead(os.getpid())  # `tgo serve --workers N`: its live gauges leave the sum

    api = Router(
        path="/api/v1",
        route_handlers=API_CONTROLLERS,
        guards=[api_key_guard],
        dependencies={"auth": Provide(provide_auth)},
        # Either header, never both (auth.api_key.extract_key).
        security=[{"ApiKey": []}, {"Bearer": []}],
    )
    sms_api = Router(
        path="/v1/sms",
        route_handlers=SMS_CONTROLLERS,
        guards=[api_key_guard],
        dependencies={"auth": Provide(provide_auth)},
        security=[{"Bearer": []}, {"ApiKey": []}],
    )

    dashboard = create_dashboard(settings)

    def on_method_not_allowed(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        """A known path asked with a method it does not take: the dashboard's HTML 405 under /dashboard, the
        JSON 405 everywhere else (both with ``Allow``)."""
        if is_dashboard_path(request.url.path):
            return dashboard.method_not_allowed(request, exc)
        return exception_handler(request, exc)

    @get("/openapi.json", include_in_schema=False)
    async def openapi_json(request: Request[Any, Any, Any]) -> dict[str, Any]:
        return finish_document(request.app.openapi_schema).to_schema()

    app = Litestar(
        route_handlers=[
            *connect_routes(settings),
            api,
            sms_api,
            dashboard.router,
            healthz,
            readyz,
            metrics,
            openapi_json,
            signed_download,
        ],
        dependencies={"db_session": Provide(provide_db_session), "runtime": Provide(provide_runtime)},
        exception_handlers={Exception: exception_handler, MethodNotAllowedException: on_method_not_allowed},
        middleware=[request_id_middleware, body_timeout(settings.http_body_timeout_seconds)],
        lifespan=[lifespan],
        request_max_body_size=settings.max_json_body_bytes,
        request_class=request_class(settings),
        openapi_config=OpenAPIConfig(
            title="TGO Business API",
            version="1.0.0",
            path="/docs",
            render_plugins=[SwaggerRenderPlugin(path="/")],
            components=Components(
                security_schemes={
                    "ApiKey": SecurityScheme(type="apiKey", name="X-Api-Key", security_scheme_in="header"),
                    "Bearer": SecurityScheme(type="http", scheme="bearer"),
                }
            ),
        ),
        debug=False,
        logging_config=None,  # observability.configure_logging owns logging (Litestar's would replace it)
    )
    if runtime is not None:
        _bind(app, runtime)
    _fix_default_options_handlers(app)
    return app


def _fix_default_options_handlers(app: Litestar) -> None:
    """Litestar 2 builds a path's default OPTIONS handler with its first handler's route and keeps it when
    more methods join the path, so ``Allow`` lists only some of them (litestar#4169, fixed in Litestar 3):
    point each default handler at the route it serves."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or "OPTIONS" not in route.route_handler_map:
            continue
        entry = route.route_handler_map["OPTIONS"]
        handler = entry[0] if isinstance(entry, tuple) else entry
        fn = getattr(handler, "fn", None)
        if fn is not None and fn.__qualname__ == "HTTPRoute.create_options_handler.<locals>.options_handler":
            for cell in fn.__closure__ or ():
                if isinstance(cell.cell_contents, HTTPRoute):
                    cell.cell_contents = route


def _bind(app: Litestar, rt: Runtime) -> None:
    app.state.runtime = rt
    app.state.db = rt.db
    app.state.settings = rt.settings
