"""The SMS state machines (seed 004): the statuses of a sender identity and of an SMS message, the moves
each allows, and the one function per machine through which a status changes (it emits the event)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tgo import events
from tgo.kit.clock import now
from tgo.models.sms import SmsMessage, SmsSender
from tgo.sms.errors import InvalidTransition
from tgo.sms.schemas import SmsMessageOut, SmsSenderOut, as_event


class SenderStatus(StrEnum):
    NOT_STARTED = "not_started"
    PENDING = "pending"
    ACTIVE = "active"
    FAILED = "failed"
    REJECTED = "rejected"
    SUSPENDED = "suspended"


class MessageStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"


SENDER_TRANSITIONS: dict[str, frozenset[str]] = {
    SenderStatus.NOT_STARTED: frozenset({SenderStatus.PENDING, SenderStatus.SUSPENDED}),
    SenderStatus.PENDING: frozenset(
        {SenderStatus.ACTIVE, SenderStatus.FAILED, SenderStatus.REJECTED, SenderStatus.SUSPENDED}
    ),
    SenderStatus.ACTIVE: frozenset({SenderStatus.SUSPENDED}),
    SenderStatus.FAILED: frozenset({SenderStatus.PENDING, SenderStatus.SUSPENDED}),
    SenderStatus.REJECTED: frozenset({SenderStatus.PENDING, SenderStatus.SUSPENDED}),
    SenderStatus.SUSPENDED: frozenset({SenderStatus.ACTIVE, SenderStatus.NOT_STARTED}),
}
VERIFIABLE = frozenset({SenderStatus.NOT_STARTED, SenderStatus.FAILED, SenderStatus.REJECTED})

MESSAGE_TRANSITIONS: dict[str, frozenset[str]] = {
    MessageStatus.QUEUED: frozenset({MessageStatus.SENT, MessageStatus.FAILED}),
    MessageStatus.SENT: frozenset({MessageStatus.DELIVERED, MessageStatus.UNDELIVERED, MessageStatus.FAILED}),
    MessageStatus.DELIVERED: frozenset(),
    MessageStatus.UNDELIVERED: frozenset(),
    MessageStatus.FAILED: frozenset(),
}


async def transition_sender(
    session: AsyncSession,
    sender: SmsSender,
    to: SenderStatus,
    *,
    reason: str | None = None,
    transactional_only: bool | None = None,
    due_at: datetime | None = None,
) -> None:
    """The one way a sender's status changes: checks the move, stamps it, emits the event."""
    if to not in SENDER_TRANSITIONS[sender.status]:
        raise InvalidTransition(params={"current": sender.status, "target": to.value})
    at = now()
    sender.status = to.value
    sender.updated_at = at
    sender.verification_due_at = due_at if to is SenderStatus.PENDING else None
    if to is SenderStatus.PENDING:
        sender.rejection_reason = None
    elif to in (SenderStatus.FAILED, SenderStatus.REJECTED):
        sender.rejection_reason = reason
    elif to is SenderStatus.ACTIVE:
        sender.rejection_reason = None
        sender.verified_at = sender.verified_at or at
        if transactional_only is not None:
            sender.transactional_only = transactional_only
    await session.flush()
    await events.emit(
        session, sender.tenant_id, events.EventType.SMS_SENDER_STATUS_CHANGED, sender_event(sender)
    )


async def transition_message(
    session: AsyncSession,
    message: SmsMessage,
    to: MessageStatus,
    *,
    error_code: str | None = None,
    error_message: str | None = None,
) -> None:
    """The one way an SMS message's status changes: checks the move, stamps it, emits the event."""
    if to not in MESSAGE_TRANSITIONS[message.status]:
        raise InvalidTransition(params={"current": message.status, "target": to.value})
    at = now()
    message.status = to.value
    message.updated_at = at
    message.claimed_until = None
    message.next_attempt_at = None
    if to is MessageStatus.SENT:
        message.sent_at = at
        message.error_code = message.error_message = None
    else:
        message.done_at = at
        if error_code is not None:
            message.error_code, message.error_message = error_code, error_message
    await session.flush()
    await events.emit(
        session, message.tenant_id, events.EventType.SMS_MESSAGE_STATUS_CHANGED, message_event(message)
    )


def sender_event(sender: SmsSender) -> dict[str, Any]:
    return as_event(SmsSenderOut.of(sender))


def message_event(message: SmsMessage) -> dict[str, Any]:
    return as_event(SmsMessageOut.of(message))
