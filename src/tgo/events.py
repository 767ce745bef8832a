"""Domain events: state machines call ``emit`` inside their transaction; listeners (webhooks, usage, ...)
register with ``listener`` and write their own rows in the same transaction (an outbox), so an event is
recorded exactly when the change it describes is committed."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

Listener = Callable[[AsyncSession, int, str, dict[str, Any]], Awaitable[None]]
_LISTENERS: list[Listener] = []

# Event types (webhook-visible names).
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

# Every event type the platform emits: the constants above.
EVENT_TYPES: tuple[str, ...] = tuple(
    sorted(
        value
        for name, value in dict(globals()).items()
        if name.isupper() and isinstance(value, str) and re.fullmatch(r"[a-z_]+\.[a-z_]+", value)
    )
)


def listener(fn: Listener) -> Listener:
    """Register ``fn(session, tenant_id, event_type, data)``; called for every emitted event."""
    if fn not in _LISTENERS:
        _LISTENERS.append(fn)
    return fn


async def emit(session: AsyncSession, tenant_id: int, event_type: str, data: dict[str, Any]) -> None:
    """Record an event in the caller's transaction. ``data`` is the object as the API shows it."""
    for fn in _LISTENERS:
        await fn(session, tenant_id, event_type, data)
