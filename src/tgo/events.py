"""Domain events: state machines call ``emit`` inside their transaction; listeners (webhooks, ...) are
installed with ``listener`` and write their own rows in the same transaction (an outbox), so an event is
recorded exactly when the change it describes is committed.

A listener may also declare an *interest*: a SQL condition on a tenant id, true when the listener may
have work for that tenant's events (webhooks: the tenant has an active endpoint). Hot paths add
``interest(tenant_id)`` to a query they run anyway and ``note_interest`` the answer, so that listeners can
skip their own lookup (``known_uninterested``) — without the emitting package knowing who listens."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, or_, true
from sqlalchemy.ext.asyncio import AsyncSession


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
    # Sent only when asked for (the dashboard's "Send test event"), to that one endpoint, whatever its events.
    WEBHOOK_TEST = "webhook.test"


# Every event type the platform emits, sorted (what a webhook endpoint may subscribe to).
EVENT_TYPES: tuple[str, ...] = tuple(sorted(EventType))

Listener = Callable[[AsyncSession, int, str, dict[str, Any]], Awaitable[None]]
Interest = Callable[[Any], ColumnElement[bool]]
_LISTENERS: list[Listener] = []
_INTERESTS: list[Interest] = []
_NOTED = "tgo_event_interest"


def listener(fn: Listener, *, interest: Interest | None = None) -> Listener:
    """Install ``fn(session, tenant_id, event_type, data)``, called for every emitted event; with
    ``interest``, the condition under which it may have work for a tenant (see the module docstring)."""
    if fn not in _LISTENERS:
        _LISTENERS.append(fn)
    if interest is not None and interest not in _INTERESTS:
        _INTERESTS.append(interest)
    return fn


async def emit(session: AsyncSession, tenant_id: int, event_type: EventType, data: dict[str, Any]) -> None:
    """Record an event in the caller's transaction. ``data`` is the object as the API shows it."""
    for fn in _LISTENERS:
        await fn(session, tenant_id, event_type, data)


def interest(tenant_id: Any) -> ColumnElement[bool]:
    """True when some listener declared an interest that holds for ``tenant_id`` (a value or a column).
    With no interest declared it is ``true()``: nothing is known, so no listener skips its lookup."""
    if not _INTERESTS:
        return true()
    if len(_INTERESTS) == 1:
        return _INTERESTS[0](tenant_id)
    return or_(*(fn(tenant_id) for fn in _INTERESTS))


def note_interest(session: AsyncSession, tenant_id: int, present: bool) -> None:
    """Record, for this transaction, what ``interest(tenant_id)`` was when last read in it."""
    session.info.setdefault(_NOTED, {})[tenant_id] = present


def known_uninterested(session: AsyncSession, tenant_id: int) -> bool:
    """True when this transaction already read that no declared interest holds for the tenant, so a
    listener that declared one has nothing to do for it."""
    return session.info.get(_NOTED, {}).get(tenant_id) is False
