"""Delivering accepted messages through Connect, and applying Connect's receipts: worker flows that own their
transactions (the send path that accepts a message is in messages.service)."""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.channels.connect_types import ConnectRejected, ConnectUnavailable, MediaRef, OutboundMessage
from tgo.kit.backoff import retry_delay
from tgo.kit.clock import now
from tgo.media.signed import signed_url
from tgo.messages.pacing import pace
from tgo.messages.repository import DeliveryQueue
from tgo.messages.state import MessageStatus, transition
from tgo.metrics import DELIVERY_ATTEMPTS
from tgo.models import Media, Message
from tgo.optouts import service as optouts
from tgo.runtime import Runtime

log = structlog.get_logger("tgo.messages")


async def deliver_message(runtime: Runtime, message_id: int) -> str:
    """One delivery attempt; idempotent (a repeated or late job finds nothing to claim). Returns what happened."""
    # Every line logged during the attempt names the message (and the request that accepted it, bound by
    # the job runner from the job's label).
    with structlog.contextvars.bound_contextvars(message_id=message_id):
        try:
            outcome = await _deliver(runtime, message_id)
        except Exception:  # the job runner logs it; the row stays queued for the sweeper
            DELIVERY_ATTEMPTS.labels("error").inc()
            raise
        DELIVERY_ATTEMPTS.labels(outcome).inc()
        log.info("delivery_attempt", outcome=outcome)
    return outcome


async def _deliver(runtime: Runtime, message_id: int) -> str:
    db = runtime.db
    at = now()
    async with db.session_scope() as s:
        lease = timedelta(seconds=runtime.settings.delivery_claim_seconds)
        claimed = await DeliveryQueue(s).claim(message_id, at, lease)
        if claimed is None:
            return "skipped"
        media = await s.get(Media, claimed[0].media_id) if claimed[0].media_id else None
    return await _send_claimed(runtime, *claimed, media=media)


async def _send_claimed(
    runtime: Runtime, message: Message, sender_name: str, *, media: Media | None = None
) -> str:
    db = runtime.db
    async with db.session_scope() as s:
        if message.media_id and media is None:
            media = await s.get(Media, message.media_id)
        opted_out = await optouts.is_opted_out(s, message.tenant_id, message.to_phone)
    if opted_out:  # a STOP arrived while the message waited (issue 18)
        async with db.session_scope() as s:
            await transition(
                s,
                message.id,
                MessageStatus.FAILED,
                now(),
                failure_code="recipient_opted_out",
                failure_reason="The recipient opted out (STOP) before the message was delivered.",
            )
        return "failed"
    outbound = OutboundMessage(
        business_message_id=f"msg-{message.id}",
        sender_phone=message.sender_phone,
        sender_name=sender_name,
        to_phone=message.to_phone,
        type=message.message_type,
        content=message.content,
        caption=message.caption,
        media=_media_ref(runtime, media, message.duration),
    )
    await pace(runtime, message.sender_number_id)
    try:
        result = await runtime.connect.get().deliver(outbound)
    except ConnectRejected as exc:
        async with db.session_scope() as s:
            await transition(
                s,
                message.id,
                MessageStatus.FAILED,
                now(),
                failure_code=exc.reason_code,
                failure_reason=f"Connect refused the message: {exc.reason_code}",
            )
        return "failed"
    except ConnectUnavailable as exc:
        async with db.session_scope() as s:
            if message.attempts >= runtime.settings.delivery_max_attempts:
                await transition(
                    s,
                    message.id,
                    MessageStatus.FAILED,
                    now(),
                    failure_code="connect_unavailable",
                    failure_reason=f"TGO Connect unreachable after {message.attempts} attempts: {exc}",
                )
                return "failed"
            delay = retry_delay(
                message.attempts,
                base=runtime.settings.delivery_retry_base_seconds,
                cap=runtime.settings.delivery_retry_max_seconds,
            )
            await DeliveryQueue(s).release_for_retry(
                message.id, now() + timedelta(seconds=delay), f"retrying: {exc}"
            )
        return "retry"
    async with db.session_scope() as s:
        await transition(
            s, message.id, MessageStatus.SENT, now(), connect_message_id=result.connect_message_id
        )
    return "sent"


def _media_ref(runtime: Runtime, media: Media | None, duration: int | None) -> MediaRef | None:
    if media is None:
        return None
    return MediaRef(
        url=signed_url(runtime, media.id),
        content_type=media.content_type,
        size=media.size,
        filename=media.filename,
        duration=duration,
    )


async def apply_receipt(
    session: AsyncSession, business_message_id: str, status: MessageStatus, at: datetime
) -> bool:
    """A delivered/read receipt from Connect (idempotent)."""
    if not business_message_id.startswith("msg-"):
        return False
    try:
        message_id = int(business_message_id[4:])
    except ValueError:
        return False
    return await transition(session, message_id, status, at) is not None
