"""create_app(): routers, middleware, error handlers; mounts the dashboard and Connect."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Request, Router, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.apikeys.endpoints import MeController
from tgo.auth.api_key import api_key_guard, provide_auth
from tgo.config import Settings, get_settings
from tgo.connect.mount import business_routes as connect_routes
from tgo.contacts.endpoints import ContactController
from tgo.dashboard import create_dashboard_router
from tgo.db import finish_failed, run_after_commit
from tgo.errors import document_error_envelope, exception_handler
from tgo.health import healthz, metrics, readyz
from tgo.http_guard import body_timeout
from tgo.media.endpoints import MediaController, signed_download
from tgo.messages.endpoints import MessageController
from tgo.observability import configure_logging, request_id_middleware
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
        try:
            yield
        finally:
            await rt.close()

    api = Router(
        path="/api/v1",
        route_handlers=API_CONTROLLERS,
        guards=[api_key_guard],
        dependencies={"auth": Provide(provide_auth)},
        security=[{"ApiKey": []}],
    )
    sms_api = Router(
        path="/v1/sms",
        route_handlers=SMS_CONTROLLERS,
        guards=[api_key_guard],
        dependencies={"auth": Provide(provide_auth)},
        security=[{"Bearer": []}],
    )

    @get("/openapi.json", include_in_schema=False)
    async def openapi_json(request: Request[Any, Any, Any]) -> dict[str, Any]:
        return document_error_envelope(request.app.openapi_schema).to_schema()

    app = Litestar(
        route_handlers=[
            *connect_routes(settings),
            api,
            sms_api,
            create_dashboard_router(settings),
            healthz,
            readyz,
            metrics,
            openapi_json,
            signed_download,
        ],
        dependencies={"db_session": Provide(provide_db_session), "runtime": Provide(provide_runtime)},
        exception_handlers={Exception: exception_handler},
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
    )
    if runtime is not None:
        _bind(app, runtime)
    return app


def _bind(app: Litestar, rt: Runtime) -> None:
    app.state.runtime = rt
    app.state.db = rt.db
    app.state.settings = rt.settings
