"""The SMS state machines (seed 004): the statuses of a sender identity and of an SMS message, the moves
each allows, and the functions through which a status changes (they emit the event): one message at a time,
or a batch of messages at once (receipts applied in batches, issue 16)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from tgo import events
from tgo.kit.clock import now
from tgo.models.sms import SmsMessage, SmsSender
from tgo.sms.errors import InvalidTransition
from tgo.sms.schemas import SmsMessageOut, SmsSenderOut, as_event
from tgo.sms.sender_cache import publish_sms_sender_change


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
    await publish_sms_sender_change(session, sender.tenant_id)  # the send path's cache drops it
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
    for name, value in _move_values(to, now(), error_code, error_message).items():
        setattr(message, name, value)
    await session.flush()
    await events.emit(
        session, message.tenant_id, events.EventType.SMS_MESSAGE_STATUS_CHANGED, message_event(message)
    )


@dataclass(frozen=True, slots=True)
class Move:
    """One message's status change in a batch."""

    message_id: uuid.UUID
    to: MessageStatus
    error_code: str | None = None
    error_message: str | None = None


async def transition_messages(session: AsyncSession, moves: Sequence[Move]) -> list[SmsMessage]:
    """The batch form of ``transition_message``: one UPDATE per (target, error) of the batch, each guarded
    by the statuses that move is allowed from (a message already moved is left as it is), the moved rows
    refreshed from RETURNING and one event emitted per moved message (``events.emit_many``). Returns the moved
    messages."""
    groups: dict[tuple[MessageStatus, str | None, str | None], list[uuid.UUID]] = {}
    for move in moves:
        groups.setdefault((move.to, move.error_code, move.error_message), []).append(move.message_id)
    at = now()
    moved: list[SmsMessage] = []
    for (to, error_code, error_message), ids in groups.items():
        allowed_from = sorted(s for s, targets in MESSAGE_TRANSITIONS.items() if to in targets)
        result = await session.scalars(
            update(SmsMessage)
            .where(SmsMessage.id.in_(ids), SmsMessage.status.in_(allowed_from))
            .values(**_move_values(to, at, error_code, error_message))
            .returning(SmsMessage)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
        moved.extend(result.all())
    # One call for the batch: a listener with a batch form (the webhooks outbox) looks up each tenant once.
    await events.emit_many(
        session,
        [(m.tenant_id, events.EventType.SMS_MESSAGE_STATUS_CHANGED, message_event(m)) for m in moved],
    )
    return moved


def _move_values(
    to: MessageStatus, at: datetime, error_code: str | None, error_message: str | None
) -> dict[str, Any]:
    """The columns a move to ``to`` sets (the one rule for both forms of the change)."""
    values: dict[str, Any] = {
        "status": to.value,
        "updated_at": at,
        "claimed_until": None,
        "next_attempt_at": None,
    }
    if to is MessageStatus.SENT:
        values.update(sent_at=at, error_code=None, error_message=None)
    else:
        values["done_at"] = at
        if error_code is not None:
            values.update(error_code=error_code, error_message=error_message)
    return values


def sender_event(sender: SmsSender) -> dict[str, Any]:
    return as_event(SmsSenderOut.of(sender))


def message_event(message: SmsMessage) -> dict[str, Any]:
    return as_event(SmsMessageOut.of(message))
