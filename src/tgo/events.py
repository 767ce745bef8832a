"""Domain events: state machines call ``emit`` inside their transaction; listeners (webhooks, usage, ...) are
contributed by their package's ``Part`` (installed in the runtime by ``tgo.wiring``) and write their own rows
in the same transaction (an outbox), so an event is recorded exactly when the change it describes is
committed."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tgo.part import Listener
from tgo.runtime import runtime_of

__all__ = ["Listener", "emit"]

# Event types (webhook-visible names).
MESSAGE_QUEUED = "message.queued"
MESSAGE_SENT = "message.sent"
MESSAGE_DELIVERED = "message.delivered"
MESSAGE_READ = "message.read"
MESSAGE_FAILED = "message.failed"
SENDER_NUMBER_STATUS_CHANGED = "sender_number.status_changed"
SMS_SENDER_STATUS_CHANGED = "sms_sender.status_changed"
SMS_MESSAGE_STATUS_CHANGED = "sms_message.status_changed"


async def emit(session: AsyncSession, tenant_id: int, event_type: str, data: dict[str, Any]) -> None:
    """Record an event in the caller's transaction: every listener installed in the session's runtime runs
    with it. ``data`` is the object as the API shows it."""
    runtime = runtime_of(session)
    if runtime is None:
        return
    for fn in runtime.registry.listeners:
        await fn(session, tenant_id, event_type, data)
