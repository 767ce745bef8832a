"""Domain events: state machines call ``emit`` inside their transaction; listeners (webhooks, ...) are
contributed by their package's ``Part`` (installed in the runtime by ``tgo.wiring``) and write their own rows
in the same transaction (an outbox), so an event is recorded exactly when the change it describes is
committed.

A part that contributes a listener may also contribute its *interest*: a SQL condition on a tenant id, true
when the listener may have work for that tenant's events (webhooks: the tenant has an active endpoint). Hot
paths add ``interest(session, tenant_id)`` to a query they run anyway and ``note_interest`` the answer, so
that listeners can skip their own lookup (``known_uninterested``) — without the emitting package knowing
who listens."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, or_, true
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.notices import publish_change
from tgo.part import Interest, Listener
from tgo.runtime import runtime_of

__all__ = [
    "EVENT_TYPES",
    "EventType",
    "Interest",
    "Listener",
    "emit",
    "emit_many",
    "interest",
    "interest_changed",
    "known_uninterested",
    "note_interest",
]


class EventType(StrEnum):
    """Every event the platform emits (the webhook-visible names)."""

    MESSAGE_QUEUED = "message.queued"
    MESSAGE_SENT = "message.sent"
    MESSAGE_DELIVERED = "message.delivered"
    MESSAGE_READ = "message.read"
    MESSAGE_FAILED = "message.failed"
    SENDER_NUMBER_STATUS_CHANGED = "sender_number.status_changed"
    SMS_SENDER_STATUS_CHANGED = "sms_sender.status_changed"
    SMS_MESSAGE_STATUS_CHANGED = "sms_message.status_changed"
    # Two-way messaging (issue 18).
    MESSAGE_RECEIVED = "message.received"
    CONTACT_OPTED_OUT = "contact.opted_out"
    CONTACT_OPTED_IN = "contact.opted_in"
    SMS_MESSAGE_RECEIVED = "sms_message.received"
    # Sent only when asked for (the dashboard's "Send test event"), to that one endpoint, whatever its events.
    WEBHOOK_TEST = "webhook.test"


# Every event type the platform emits, sorted (what a webhook endpoint may subscribe to).
EVENT_TYPES: tuple[str, ...] = tuple(sorted(EventType))

_NOTED = "tgo_event_interest"
# The change notice of "an interest may now hold for this tenant" (key: the tenant id), for caches that keep
# an ``interest`` read (the send path's sender cache).
TOPIC_EVENT_INTEREST = "event_interest"


async def emit(session: AsyncSession, tenant_id: int, event_type: EventType, data: dict[str, Any]) -> None:
    """Record an event in the caller's transaction: every listener installed in the session's runtime runs
    with it. ``data`` is the object as the API shows it."""
    runtime = runtime_of(session)
    if runtime is None:
        return
    for fn in runtime.registry.listeners:
        await fn(session, tenant_id, event_type, data)


async def emit_many(session: AsyncSession, items: Sequence[tuple[int, EventType, dict[str, Any]]]) -> None:
    """``emit`` for many events (tenant id, type, data) of one transaction, in order: a listener whose part
    declared a batch form gets them all in one call (the webhooks outbox writes their rows in bulk); any
    other listener is called once per event."""
    runtime = runtime_of(session)
    if runtime is None or not items:
        return
    batch_of: dict[Any, Any] = {}
    for fns, batch in runtime.registry.listener_sets:
        if batch is not None:
            batch_of.update((fn, batch) for fn in fns)
    done: list[Any] = []
    for fn in runtime.registry.listeners:
        batch = batch_of.get(fn)
        if batch is None:
            for tenant_id, event_type, data in items:
                await fn(session, tenant_id, event_type, data)
        elif batch not in done:
            done.append(batch)
            await batch(session, items)


def interest(session: AsyncSession, tenant_id: Any) -> ColumnElement[bool]:
    """True when some interest installed in the session's runtime holds for ``tenant_id`` (a value or a
    column). With none installed it is ``true()``: nothing is known, so no listener skips its lookup."""
    runtime = runtime_of(session)
    interests = runtime.registry.interests if runtime is not None else []
    if not interests:
        return true()
    if len(interests) == 1:
        return interests[0](tenant_id)
    return or_(*(fn(tenant_id) for fn in interests))


def note_interest(session: AsyncSession, tenant_id: int, present: bool) -> None:
    """Record, for this transaction, what ``interest(session, tenant_id)`` was when last read in it."""
    session.info.setdefault(_NOTED, {})[tenant_id] = present


def known_uninterested(session: AsyncSession, tenant_id: int) -> bool:
    """True when this transaction already read that no installed interest holds for the tenant, so a
    listener whose part contributed one has nothing to do for it."""
    return session.info.get(_NOTED, {}).get(tenant_id) is False


async def interest_changed(session: AsyncSession, tenant_id: int) -> None:
    """A part's interest in the tenant may have changed (e.g. a webhook endpoint became active): caches that
    keep an ``interest`` read drop it when ``session``'s transaction commits."""
    await publish_change(session, TOPIC_EVENT_INTEREST, tenant_id)
