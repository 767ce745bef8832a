"""create_connect_app(): the reference TGO Connect network as its own Litestar app.

Served on its own by ``tgo connect serve`` (its lifespan runs the event pump) or mounted at /connect in
the Business app in the embedded default (the Business process pumps the events then)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from litestar import Litestar, Router, get
from litestar.di import Provide

from tgo.channels.connect_protocol import API_PATH
from tgo.config import Settings
from tgo.db import Database
from tgo.errors import exception_handler
from tgo.health import healthz, metrics, readyz
from tgo.http_guard import body_timeout
from tgo.kit.heap import freeze_startup_heap
from tgo.observability import request_id_middleware
from tgo.request_body import request_class

from . import inbox_page
from .endpoints import (
    AccountsController,
    FaultsController,
    LookupController,
    MessageBatchController,
    MessagesController,
    ReachabilityController,
    connect_api_guard,
    provide_connect_session,
)
from .network import ConnectNetwork, http_events_target
from .phone_endpoints import LinksController, MediaController, PhoneMessagesController

log = structlog.get_logger("tgo.connect")


def create_connect_app(
    settings: Settings, db: Database, *, network: ConnectNetwork | None = None, run_pump: bool | None = None
) -> Litestar:
    """The Connect app on ``db``. Without ``network`` (standalone) it posts events to TGO_BUSINESS_URL and
    its lifespan runs the event pump; with one (embedded) the owner runs the pump."""
    standalone = network is None
    net = network or ConnectNetwork(settings, db, http_events_target(settings))
    pump_in_lifespan = standalone if run_pump is None else run_pump

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await net.ready()
        if standalone:  # its own process (embedded, the owner's lifespan freezes the heap)
            freeze_startup_heap()
        task: asyncio.Task[None] | None = None
        if pump_in_lifespan:
            if net.pump.target is None:
                log.warning("connect_events_have_no_destination", hint="set TGO_BUSINESS_URL")
            net.pump.enabled_kicks = True
            task = asyncio.create_task(_pump_loop(net), name="connect-event-pump")
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if standalone:
                await net.close()
                await db.dispose()

    api = Router(
        path=API_PATH,
        route_handlers=[
            AccountsController,
            LookupController,
            MessagesController,
            MessageBatchController,
            FaultsController,
            ReachabilityController,
            PhoneMessagesController,
            LinksController,
            MediaController,
        ],
        guards=[connect_api_guard],
        dependencies={"connect_session": Provide(provide_connect_session)},
    )
    # On its own (`tgo connect serve`) it has the same health and metrics routes as `tgo serve`, and logs
    # and counts its requests the same way; mounted in the Business app, the Business app does both.
    handlers: list[Any] = [api, *inbox_page.HANDLERS, _healthz]
    middleware: list[Any] = [body_timeout(settings.http_body_timeout_seconds)]
    if standalone:
        handlers += [healthz, readyz, metrics]
        middleware.insert(0, request_id_middleware)
    app = Litestar(
        route_handlers=handlers,
        exception_handlers={Exception: exception_handler},
        middleware=middleware,
        request_class=request_class(settings),
        lifespan=[lifespan],
        openapi_config=None,
        debug=False,
        logging_config=None,  # observability.configure_logging owns logging (Litestar's would replace it)
    )
    app.state.connect = net
    app.state.db = db
    return app


@get("/connect/healthz", include_in_schema=False)
async def _healthz() -> dict[str, str]:
    # Kept where it has always been (also reachable through the Business app's /connect mount).
    return {"status": "ok"}


async def _pump_loop(network: ConnectNetwork) -> None:
    last_prune = 0.0
    while True:
        try:
            await network.pump.run_once()
            if time.monotonic() - last_prune > 3600:
                last_prune = time.monotonic()
                await network.pump.prune()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("connect_event_pump_failed")
        await asyncio.sleep(network.settings.connect_event_interval_seconds)
