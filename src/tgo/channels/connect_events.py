"""The Business side's receiver of Connect events (``POST /internal/connect/events``). Other parts react to
them with handlers they declare in their package's ``Part`` (``connect_handlers``), which ``tgo.wiring``
installs in the runtime: a process that applies an event always has every handler.

Every handler of one event runs in one transaction, with the event recorded as received in that same
transaction: a redelivered event (Connect delivers at least once) is acknowledged without running the
handlers again, and a handler that raises rolls everything back so Connect retries later. Handlers must
still be idempotent (two processes can receive the same event at the same moment)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from litestar import Controller, Litestar, Request, post
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.channels.connect_protocol import (
    EVENTS_PATH,
    HEADER_EVENT_ID,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    verify_event,
)
from tgo.errors import Unauthenticated, ValidationFailed, exception_handler
from tgo.kit.clock import now
from tgo.kit.json_input import decode_json
from tgo.models.received_connect_event import ReceivedConnectEvent
from tgo.part import ConnectHandler
from tgo.request_body import request_class

if TYPE_CHECKING:
    from tgo.runtime import Runtime

log = structlog.get_logger("tgo.connect.receiver")

RECEIPT_RETENTION = timedelta(days=7)
Handler = ConnectHandler


async def dispatch(session: AsyncSession, runtime: Runtime, event_type: str, data: dict[str, Any]) -> int:
    """Run every handler of ``event_type`` in the caller's transaction; returns how many ran."""
    handlers = list(runtime.registry.connect_handlers.get(event_type, ()))
    for fn in handlers:
        await fn(session, runtime, data)
    return len(handlers)


class _Receipts:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def seen(self, event_id: str) -> bool:
        return await self.session.get(ReceivedConnectEvent, event_id) is not None

    def add(self, event_id: str, event_type: str) -> None:
        self.session.add(ReceivedConnectEvent(event_id=event_id, type=event_type, received_at=now()))

    async def prune(self, before: datetime) -> int:
        result = await self.session.execute(
            delete(ReceivedConnectEvent).where(ReceivedConnectEvent.received_at < before)
        )
        return int(getattr(result, "rowcount", 0) or 0)


async def prune_receipts(runtime: Runtime, keep: timedelta = RECEIPT_RETENTION) -> int:
    """Forget receipts older than ``keep`` (Connect stops redelivering an event once acknowledged)."""
    async with runtime.db.session_scope() as session:
        return await _Receipts(session).prune(now() - keep)


async def receive_event(runtime: Runtime, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """Verify, de-duplicate and apply one event. Raises Unauthenticated for a bad or stale signature."""
    if not verify_event(
        runtime.settings.secret(), headers.get(HEADER_TIMESTAMP), headers.get(HEADER_SIGNATURE), body, now()
    ):
        log.warning("connect_event_rejected", reason="bad or stale signature")
        raise Unauthenticated()
    event = decode_json(body, runtime.settings.max_json_depth)  # 400 invalid_json
    try:
        event_id = str(event["id"])
        event_type = str(event["type"])
        data = event["data"]
        if not isinstance(data, dict) or not event_id or len(event_id) > 64:
            raise ValueError("shape")
    except (ValueError, KeyError, TypeError):
        raise ValidationFailed({"body": ["Not a Connect event."]}) from None
    if headers.get(HEADER_EVENT_ID, event_id) != event_id:
        raise ValidationFailed({"body": ["The event id does not match its header."]})
    try:
        async with runtime.db.session_scope() as session:
            receipts = _Receipts(session)
            if await receipts.seen(event_id):
                return {"id": event_id, "status": "duplicate"}
            receipts.add(event_id, event_type)
            await session.flush()
            handled = await dispatch(session, runtime, event_type, data)
    except IntegrityError:
        # The same event was applied concurrently by another request: it is done.
        return {"id": event_id, "status": "duplicate"}
    log.debug("connect_event_applied", id=event_id, type=event_type, handlers=handled)
    return {"id": event_id, "status": "applied", "handlers": handled}


class ConnectEventsController(Controller):
    """Signed events from the Connect network (no API key: the HMAC signature authenticates)."""

    path = EVENTS_PATH
    include_in_schema = False

    @post("/", status_code=200)
    async def receive(self, request: Request[Any, Any, Any]) -> dict[str, Any]:
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        return await receive_event(request.app.state.runtime, headers, body)


def create_receiver_app(runtime: Runtime) -> Litestar:
    """Just the receiver, for the embedded Connect to post to in process (same code as the mounted one)."""
    app = Litestar(
        route_handlers=[ConnectEventsController],
        exception_handlers={Exception: exception_handler},
        request_class=request_class(runtime.settings),
        openapi_config=None,
        debug=False,
        logging_config=None,  # observability.configure_logging owns logging (Litestar's would replace it)
    )
    app.state.runtime = runtime
    return app
