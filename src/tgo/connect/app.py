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

import jinja2
import structlog
from litestar import Litestar, Request, Response, Router, get, post
from litestar.di import Provide
from litestar.response import Redirect

from tgo.channels.connect_protocol import API_PATH, inbox_token_matches
from tgo.config import Settings
from tgo.db import Database
from tgo.errors import NotFound, exception_handler
from tgo.health import healthz, metrics, readyz
from tgo.http_guard import body_timeout
from tgo.i18n import translate
from tgo.observability import request_id_middleware

from . import service
from .endpoints import (
    AccountsController,
    FaultsController,
    LookupController,
    MessagesController,
    connect_api_guard,
    provide_connect_session,
)
from .network import ConnectNetwork, http_events_target

log = structlog.get_logger("tgo.connect")

_TEMPLATE = jinja2.Environment(autoescape=True).from_string(
    """<!doctype html>
<html lang="{{ lang }}" dir="{{ 'rtl' if lang == 'ar' else 'ltr' }}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ t('connect.inbox.title') }} — {{ account.name }}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}
.msg{border:1px solid #ddd;border-radius:.5rem;padding:.75rem 1rem;margin:.75rem 0}
.unread{border-color:#2b6cb0;background:#f3f8ff}.meta{color:#555;font-size:.85rem}
.content{white-space:pre-wrap;margin:.5rem 0;font-size:1.05rem}button{cursor:pointer}
</style></head>
<body>
<h1>{{ t('connect.inbox.title') }}</h1>
<p class="meta">{{ account.name }} · <bdi>{{ account.phone }}</bdi></p>
{% if not messages %}<p>{{ t('connect.inbox.empty') }}</p>{% endif %}
{% for m in messages %}
<div class="msg {{ 'unread' if m.read_at is none else '' }}" data-message-id="{{ m.id }}">
  <div class="meta"><strong>{{ m.sender_name }}</strong> · <bdi>{{ m.sender_phone }}</bdi>
  · <time datetime="{{ iso(m.received_at) }}">{{ iso(m.received_at) }}</time></div>
  {% if m.content %}<div class="content">{{ m.content }}</div>{% endif %}
  {% if m.media %}<div class="content">[{{ m.type }}] {{ m.media.filename or m.media.content_type }}
  {% if m.caption %}— {{ m.caption }}{% endif %}</div>{% endif %}
  {% if m.read_at is none %}
  <form method="post" action="{{ base }}/read/{{ m.id }}?key={{ key }}">
    <button type="submit">{{ t('connect.inbox.mark_read') }}</button></form>
  {% else %}<div class="meta">{{ t('connect.inbox.read') }}</div>{% endif %}
</div>
{% endfor %}
</body></html>"""
)


def _iso(value: Any) -> str:
    return str(value.isoformat().replace("+00:00", "Z")) if value is not None else ""


async def _page_account(request: Request[Any, Any, Any], phone: str, key: str) -> tuple[ConnectNetwork, str]:
    network: ConnectNetwork = request.app.state.connect
    try:
        e164 = service.phone_or_422(phone)
    except Exception:
        raise NotFound() from None
    if not inbox_token_matches(network.settings.secret(), e164, key):
        raise NotFound()  # never reveal whether the phone has an account
    await network.ready()
    return network, e164


@get("/connect/inbox/{phone:str}", include_in_schema=False, media_type="text/html")
async def inbox_page(request: Request[Any, Any, Any], phone: str, key: str = "") -> Response[str]:
    network, e164 = await _page_account(request, phone, key)
    async with network.db.session_scope() as session:
        account = await service.get_account(session, e164)
        rows = await service.inbox(session, e164, 100)
        messages = [service.to_inbox_message(r) for r in rows]
    lang = account.language

    def t(k: str) -> str:
        return translate(k, lang)

    html = _TEMPLATE.render(
        account=account, messages=messages, lang=lang, t=t, iso=_iso, key=key, base=f"/connect/inbox/{e164}"
    )
    return Response(html, media_type="text/html")


@post("/connect/inbox/{phone:str}/read/{message_id:int}", include_in_schema=False, status_code=303)
async def inbox_mark_read(
    request: Request[Any, Any, Any], phone: str, message_id: int, key: str = ""
) -> Redirect:
    network, e164 = await _page_account(request, phone, key)
    async with network.db.session_scope() as session:
        await service.mark_read(session, e164, message_id)
        wrote = session.info.pop(service.EVENTS_WRITTEN, False)
    if wrote:
        network.pump.kick()
    return Redirect(path=f"/connect/inbox/{e164}?key={key}", status_code=303)


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
        route_handlers=[AccountsController, LookupController, MessagesController, FaultsController],
        guards=[connect_api_guard],
        dependencies={"connect_session": Provide(provide_connect_session)},
    )
    # On its own (`tgo connect serve`) it has the same health and metrics routes as `tgo serve`, and logs
    # and counts its requests the same way; mounted in the Business app, the Business app does both.
    handlers: list[Any] = [api, inbox_page, inbox_mark_read, _healthz]
    middleware: list[Any] = [body_timeout(settings.http_body_timeout_seconds)]
    if standalone:
        handlers += [healthz, readyz, metrics]
        middleware.insert(0, request_id_middleware)
    app = Litestar(
        route_handlers=handlers,
        exception_handlers={Exception: exception_handler},
        middleware=middleware,
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
