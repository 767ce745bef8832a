"""The webhook outbox: the event listener that writes an event and its deliveries in the emitting
transaction, and publishes their jobs after it commits (the sweeper finds what is not published)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from tgo import events
from tgo.db import after_commit
from tgo.kit.clock import now
from tgo.models.webhook import WebhookDelivery, WebhookEndpoint, WebhookEvent
from tgo.runtime import Runtime, runtime_of
from tgo.webhooks.repository import DeliveryStatus, WebhookDeliveryRepository, WebhookEndpointRepository
from tgo.worker.registry import publish

log = structlog.get_logger("tgo.webhooks")

TASK_DELIVER = "webhooks.deliver"


async def record_event(session: AsyncSession, tenant_id: int, event_type: str, data: dict[str, Any]) -> None:
    """Write the event and one delivery per active endpoint subscribed to it, in the caller's
    transaction; their jobs are published after it commits (or found by the sweeper)."""
    if events.known_uninterested(session, tenant_id):  # read earlier in this transaction (the send path)
        return
    endpoints = [
        e for e in await WebhookEndpointRepository(session, tenant_id).active() if event_type in e.events
    ]
    if endpoints:
        await write_event(session, tenant_id, event_type, data, endpoints)


async def record_events(session: AsyncSession, items: Sequence[tuple[int, str, dict[str, Any]]]) -> None:
    """``record_event`` for many events of one transaction (a batch of receipts or inbound messages): one
    endpoint lookup per tenant, the events and their deliveries written in bulk. Each event is its own row
    with its own id, body and deliveries, so it is signed, retried and logged exactly as a single one."""
    by_tenant: dict[int, list[tuple[str, dict[str, Any]]]] = {}
    for tenant_id, event_type, data in items:
        if not events.known_uninterested(session, tenant_id):
            by_tenant.setdefault(tenant_id, []).append((event_type, data))
    for tenant_id, tenant_items in by_tenant.items():
        endpoints = await WebhookEndpointRepository(session, tenant_id).active()
        wanted = [(t, d, [e for e in endpoints if t in e.events]) for t, d in tenant_items]
        wanted = [w for w in wanted if w[2]]
        if wanted:
            await _write_events(session, tenant_id, wanted)


async def _write_events(
    session: AsyncSession,
    tenant_id: int,
    wanted: list[tuple[str, dict[str, Any], list[WebhookEndpoint]]],
) -> None:
    current = now()
    repo = WebhookDeliveryRepository(session, tenant_id)
    rows = [
        WebhookEvent(public_id="evt_" + secrets.token_hex(16), type=t, body="", created_at=current)
        for t, _d, _e in wanted
    ]
    await repo.add_events(rows)
    publishable = _publishing_runtime(session) is not None
    deliveries: list[WebhookDelivery] = []
    for event, (event_type, data, endpoints) in zip(rows, wanted, strict=True):
        event.body = _body(event, event_type, data)
        deliveries.extend(_deliveries(event, endpoints, current, publishable=publishable))
    await repo.add_deliveries(deliveries)
    publish_after_commit(session, [d.id for d in deliveries])


def _deliveries(
    event: WebhookEvent, endpoints: list[WebhookEndpoint], at: datetime, *, publishable: bool
) -> list[WebhookDelivery]:
    """One pending delivery of ``event`` per endpoint, due now."""
    return [
        WebhookDelivery(
            endpoint_id=endpoint.id,
            event_id=event.id,
            status=DeliveryStatus.PENDING.value,
            attempt_count=0,
            next_attempt_at=at,
            # Without a runtime to publish through, the sweeper's next pass sends it.
            dispatched_at=at if publishable else None,
            created_at=at,
        )
        for endpoint in endpoints
    ]


def _body(event: WebhookEvent, event_type: str, data: dict[str, Any]) -> str:
    """The signed body of an event: its sequence is its row id."""
    return msgspec.json.encode(
        {
            "id": event.public_id,
            "type": event_type,
            "timestamp": event.created_at,
            "sequence": event.id,
            "data": data,
        }
    ).decode()


async def write_event(
    session: AsyncSession,
    tenant_id: int,
    event_type: str,
    data: dict[str, Any],
    endpoints: list[WebhookEndpoint],
) -> tuple[WebhookEvent, list[WebhookDelivery]]:
    """The event row and one delivery per endpoint; their jobs are published after commit."""
    current = now()
    repo = WebhookDeliveryRepository(session, tenant_id)
    event = await repo.add_event(
        WebhookEvent(public_id="evt_" + secrets.token_hex(16), type=event_type, body="", created_at=current)
    )
    event.body = _body(event, event_type, data)
    publishable = _publishing_runtime(session) is not None
    deliveries = _deliveries(event, endpoints, current, publishable=publishable)
    await repo.add_deliveries(deliveries)
    publish_after_commit(session, [d.id for d in deliveries])
    return event, deliveries


def _publishing_runtime(session: AsyncSession) -> Runtime | None:
    """The started runtime that opened ``session`` (the wiring puts it in the session's info), through which
    the listener publishes jobs; without one (a runtime never started) the sweeper sends the deliveries."""
    runtime = runtime_of(session)
    return runtime if runtime is not None and runtime.started else None


def publish_after_commit(session: AsyncSession, delivery_ids: list[int]) -> None:
    runtime = _publishing_runtime(session)
    if runtime is None or not delivery_ids:
        return

    async def publish_jobs() -> None:
        for delivery_id in delivery_ids:
            try:
                await publish(runtime, TASK_DELIVER, {"delivery_id": delivery_id})
            except Exception:
                # The delivery row is committed: the sweeper re-publishes it once it is stale.
                log.warning("webhook_publish_failed", delivery_id=delivery_id, exc_info=True)

    after_commit(session, publish_jobs)
