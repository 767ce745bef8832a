"""The embedded default: a Connect network inside the Business process (TGO_CONNECT_URL unset).

Business reaches it over an in-process ASGI transport, and it posts its events to the Business
receiver in process (or to TGO_BUSINESS_URL when that is set)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import httpx
from litestar import Litestar

from tgo.db import Database

from .app import create_connect_app
from .network import ConnectNetwork, connect_database_url, http_events_target

if TYPE_CHECKING:
    from tgo.runtime import Runtime


class EmbeddedConnect:
    def __init__(self, network: ConnectNetwork, app: Litestar) -> None:
        self.network = network
        self.app = app


def build_embedded_connect(runtime: Runtime) -> EmbeddedConnect:
    """The runtime's in-process Connect network (``runtime.embedded_connect`` builds it on first use; closed
    with the runtime)."""
    from tgo.channels.connect_events import create_receiver_app

    settings = runtime.settings
    url = connect_database_url(settings)
    if url == runtime.db.url:
        db = runtime.db
    else:
        db = Database(url, pool_size=5, name="connect")
        runtime.on_shutdown(db.dispose)
    target = http_events_target(settings) or httpx.AsyncClient(
        transport=httpx.ASGITransport(app=cast(Any, create_receiver_app(runtime))),
        base_url="http://business.internal",
        timeout=settings.connect_timeout_seconds,
    )
    network = ConnectNetwork(settings, db, target)
    embedded = EmbeddedConnect(network, create_connect_app(settings, db, network=network, run_pump=False))
    runtime.on_shutdown(network.close)
    return embedded
