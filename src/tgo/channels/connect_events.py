"""The Business side's receiver of Connect events (``POST /internal/connect/events``). Other parts react to
them with handlers they declare in their package's ``Part`` (``connect_handlers``, one event at a time, and
``connect_batch_handlers``, a run of events of one type at once), which ``tgo.wiring`` installs in the
runtime: a process that applies an event always has every handler.

A post carries one event (an object) or an array of events in the order they happened (what Connect's
pump sends). An array is applied in ONE transaction: the ids already received are found with one query,
the new ones recorded as received, and each run of consecutive events of one type handed to that type's
batch handlers together, then to its single handlers one by one. If anything in that transaction fails,
the events are applied again one at a time, each in its own transaction, up to the first that fails; the
answer is a result per item, in order: ``applied`` or ``duplicate`` for a prefix, then at most one
``failed`` (with its error code), then ``skipped`` for the rest (not applied: post them again). A
redelivered event (Connect delivers at least once) is acknowledged as ``duplicate`` without running the
handlers again. Handlers must still be idempotent (two processes can receive the same event at once)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from litestar import Controller, Litestar, Request, post
from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.channels.connect_protocol import (
    EVENTS_PATH,
    HEADER_EVENT_ID,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    verify_event,
)
from tgo.errors import AppError, Unauthenticated, ValidationFailed, exception_handler
from tgo.kit.clock import now
from tgo.kit.json_input import decode_json
from tgo.models.received_connect_event import ReceivedConnectEvent
from tgo.part import ConnectHandler
from tgo.request_body import request_class

if TYPE_CHECKING:
    from tgo.runtime import Runtime

log = structlog.get_logger("tgo.connect.receiver")

RECEIPT_RETENTION = timedelta(days=7)
# The most events one post may carry (Connect's pump sends at most ``connect_network.events.ARRAY_MAX``).
MAX_EVENTS_PER_POST = 500
Handler = ConnectHandler


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    data: dict[str, Any]


async def dispatch(session: AsyncSession, runtime: Runtime, event_type: str, data: dict[str, Any]) -> int:
    """Run every handler of ``event_type`` in the caller's transaction; returns how many ran."""
    return await dispatch_run(session, runtime, event_type, [data])


async def dispatch_run(
    session: AsyncSession, runtime: Runtime, event_type: str, items: Sequence[dict[str, Any]]
) -> int:
    """Run consecutive events of one type: its batch handlers with them all, then its single handlers with
    each in order; returns how many handlers there are."""
    batch_handlers = list(runtime.registry.connect_batch_handlers.get(event_type, ()))
    handlers = list(runtime.registry.connect_handlers.get(event_type, ()))
    for batch_fn in batch_handlers:
        await batch_fn(session, runtime, items)
    for fn in handlers:
        for data in items:
            await fn(session, runtime, data)
    return len(batch_handlers) + len(handlers)


class _Receipts:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def seen(self, event_id: str) -> bool:
        return await self.session.get(ReceivedConnectEvent, event_id) is not None

    async def seen_of(self, event_ids: Sequence[str]) -> set[str]:
        """Which of ``event_ids`` were received before (one query)."""
        rows = await self.session.scalars(
            select(ReceivedConnectEvent.event_id).where(ReceivedConnectEvent.event_id.in_(list(event_ids)))
        )
        return set(rows)

    async def add_many(self, events: Sequence[Event]) -> None:
        """Record these events as received (one multi-row INSERT; a concurrent receipt of one of them is an
        IntegrityError)."""
        at = now()
        await self.session.execute(
            insert(ReceivedConnectEvent),
            [{"event_id": e.id, "type": e.type, "received_at": at} for e in events],
        )

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


def _event(item: Any) -> Event:
    try:
        event_id = str(item["id"])
        event_type = str(item["type"])
        data = item["data"]
        if not isinstance(data, dict) or not event_id or len(event_id) > 64:
            raise ValueError("shape")
    except (ValueError, KeyError, TypeError):
        raise ValidationFailed({"body": ["Not a Connect event."]}) from None
    return Event(event_id, event_type, data)


async def receive_event(runtime: Runtime, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """Verify, de-duplicate and apply one event, or an array of them (then the answer is ``{"results":
    [...]}``, one per item). Raises Unauthenticated for a bad or stale signature."""
    if not verify_event(
        runtime.settings.secret(), headers.get(HEADER_TIMESTAMP), headers.get(HEADER_SIGNATURE), body, now()
    ):
        log.warning("connect_event_rejected", reason="bad or stale signature")
        raise Unauthenticated()
    decoded = decode_json(body, runtime.settings.max_json_depth)  # 400 invalid_json
    if isinstance(decoded, list):
        if len(decoded) > MAX_EVENTS_PER_POST:
            raise ValidationFailed({"body": [f"At most {MAX_EVENTS_PER_POST} events per post."]})
        return {"results": await receive_events(runtime, [_event(item) for item in decoded])}
    event = _event(decoded)
    if headers.get(HEADER_EVENT_ID, event.id) != event.id:
        raise ValidationFailed({"body": ["The event id does not match its header."]})
    return await _apply_one(runtime, event)


async def _apply_one(runtime: Runtime, event: Event) -> dict[str, Any]:
    """One event in its own transaction (raises what its handlers raise: nothing is applied then)."""
    try:
        async with runtime.db.session_scope() as session:
            receipts = _Receipts(session)
            if await receipts.seen(event.id):
                return {"id": event.id, "status": "duplicate"}
            receipts.add(event.id, event.type)
            await session.flush()
            handled = await dispatch(session, runtime, event.type, event.data)
    except IntegrityError:
        # The same event was applied concurrently by another request: it is done.
        return {"id": event.id, "status": "duplicate"}
    log.debug("connect_event_applied", id=event.id, type=event.type, handlers=handled)
    return {"id": event.id, "status": "applied", "handlers": handled}


async def receive_events(runtime: Runtime, events: Sequence[Event]) -> list[dict[str, Any]]:
    """Apply events in order, in one transaction; if that fails, one at a time up to the first failure."""
    try:
        async with runtime.db.session_scope() as session:
            results = await _apply_batch(session, runtime, events)
    except Exception as exc:
        log.warning(
            "connect_event_batch_failed", events=len(events), error=type(exc).__name__, retry="one_by_one"
        )
        return await _apply_one_by_one(runtime, events)
    log.debug("connect_events_applied", events=len(events))
    return results


async def _apply_batch(
    session: AsyncSession, runtime: Runtime, events: Sequence[Event]
) -> list[dict[str, Any]]:
    receipts = _Receipts(session)
    seen = await receipts.seen_of([e.id for e in events]) if events else set()
    results: list[dict[str, Any]] = []
    fresh: list[Event] = []
    for event in events:
        if event.id in seen:
            results.append({"id": event.id, "status": "duplicate"})
            continue
        seen.add(event.id)  # the same id twice in one array: the second is a duplicate
        fresh.append(event)
        results.append({"id": event.id, "status": "applied"})
    if not fresh:
        return results
    await receipts.add_many(fresh)
    start = 0
    for n in range(1, len(fresh) + 1):
        if n == len(fresh) or fresh[n].type != fresh[start].type:
            await dispatch_run(session, runtime, fresh[start].type, [e.data for e in fresh[start:n]])
            start = n
    return results


async def _apply_one_by_one(runtime: Runtime, events: Sequence[Event]) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for n, event in enumerate(events):
        try:
            result = await _apply_one(runtime, event)
        except Exception as exc:
            code = exc.code if isinstance(exc, AppError) else type(exc).__name__
            log.warning("connect_event_failed", id=event.id, type=event.type, error=code)
            results.append({"id": event.id, "status": "failed", "error": code})
            results.extend({"id": e.id, "status": "skipped"} for e in events[n + 1 :])
            return results
        results.append({"id": result["id"], "status": result["status"]})
    return results


class ConnectEventsController(Controller):
    """Signed events from the Connect network (no API key: the HMAC signature authenticates)."""

    path = EVENTS_PATH
    include_in_schema = False

    @post("/", status_code=200)
    async def receive(self, request: Request[Any, Any, Any]) -> dict[str, Any]:
        """One signed event (an object), or an array of them: see the module's docstring."""
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
