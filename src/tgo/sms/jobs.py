"""The background side of SMS: carrier verification, delivery over the SMS channel, receipts, sweeping.

Every function is idempotent and works from the database (the truth): a message is claimed with a
conditional UPDATE before it is submitted, the parts the SMSC accepted are recorded with their SMSC
message ids (so a retry submits only the rest), and receipts are matched by those ids.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.channels.sms_sandbox import SandboxSmsChannel
from tgo.channels.sms_types import InboundSms, OutboundSms, Receipt, SmsChannel
from tgo.db import after_commit
from tgo.kit.backoff import retry_delay
from tgo.kit.clock import now
from tgo.kit.lazy import Lazy
from tgo.metrics import SMS_PARTS_SUBMITTED, SWEEPER_REPUBLISHED
from tgo.models.sms import SmsMessage, SmsMessagePart, SmsSender
from tgo.optouts import service as optouts
from tgo.runtime import Runtime
from tgo.sms.inbound import apply_inbound
from tgo.sms.receipts import ReceiptBatches, settlement
from tgo.sms.repository import SmsOperatorRepository
from tgo.sms.rules import SenderType
from tgo.sms.state import MessageStatus, SenderStatus, transition_message, transition_sender
from tgo.worker.registry import publish

log = structlog.get_logger("tgo.sms")

DELIVER_TASK = "sms.deliver"
VERIFY_TASK = "sms.verify_sender"
# How long one delivery attempt may hold a message before the sweeper may hand it to another worker.
CLAIM_LEASE = timedelta(minutes=5)


# -- the channel and the carrier of this process ------------------------------------------------------


def default_channel(runtime: Runtime) -> SmsChannel:
    """The process's SMS channel when none is passed to the wiring: SMPP to TGO_SMPP_HOST, else the sandbox."""
    settings = runtime.settings
    if settings.smpp_host:
        from tgo.channels.smpp import smpp_channel

        return smpp_channel(
            settings.smpp_host,
            settings.smpp_port,
            settings.smpp_system_id,
            settings.smpp_password.get_secret_value(),
            window=settings.smpp_window,
            binds=settings.smpp_binds,
        )
    return SandboxSmsChannel()


def connect_channel(runtime: Runtime, channel: SmsChannel) -> SmsChannel:
    """Make ``channel`` this runtime's: its receipts are applied here (in batches) and it closes with the
    runtime."""

    receipts = ReceiptBatches(runtime.db)

    async def on_receipt(receipt: Receipt) -> bool:  # applied with the others arriving meanwhile
        return await receipts.apply(receipt)

    async def on_inbound(sms: InboundSms) -> bool:  # a mobile-originated SMS (issue 18)
        return await apply_inbound(runtime, sms)

    channel.set_receipt_handler(on_receipt)
    channel.set_inbound_handler(on_inbound)
    runtime.on_shutdown(channel.close)
    return channel


def install_channel(runtime: Runtime, channel: SmsChannel) -> None:
    """Use ``channel`` for this runtime from now on (tests bind an SMPP client to a simulator they start
    after the runtime; a channel known up front is passed to ``tgo.wiring.build_runtime`` instead)."""
    bound = connect_channel(runtime, channel)
    runtime.sms_channel = Lazy(lambda: bound)


# -- verification ---------------------------------------------------------------------------------


async def publish_verification(runtime: Runtime, sender_id: uuid.UUID, due_at: datetime | None) -> None:
    payload = {"sender_id": str(sender_id), "due_at": due_at.isoformat() if due_at else None}
    await publish(runtime, VERIFY_TASK, payload)


def publish_verification_after_commit(session: AsyncSession, runtime: Runtime, sender: SmsSender) -> None:
    """Once the transaction that started ``sender``'s verification commits, publish its job (if the job is
    lost, the sweeper starts the verification from the row)."""
    sender_id, due_at = sender.id, sender.verification_due_at

    async def job() -> None:
        await publish_verification(runtime, sender_id, due_at)

    after_commit(session, job)


async def verify_sender(runtime: Runtime, sender_id: uuid.UUID, due_at: datetime | None = None) -> None:
    """Wait until the carrier's answer is due, then apply it (a no-op unless still ``pending``)."""
    if due_at is not None:
        wait = (due_at - now()).total_seconds()
        if wait > 0:
            await asyncio.sleep(wait)
    await decide_sender(runtime, sender_id)


async def decide_sender(runtime: Runtime, sender_id: uuid.UUID) -> str | None:
    async with runtime.db.session_scope() as session:
        ops = SmsOperatorRepository(session)
        sender = await ops.sender(sender_id, lock=True)
        if sender is None or sender.status != SenderStatus.PENDING:
            return None
        if sender.verification_due_at is not None and sender.verification_due_at > now():
            return None
        brand_taken = sender.sender_type == SenderType.ALPHANUMERIC_ID and await ops.brand_active_elsewhere(
            sender.tenant_id, sender.sender_id, sender.country
        )
        decision = await runtime.sms_verifier.verify(
            sender.sender_type, sender.sender_id, sender.country, brand_taken=brand_taken
        )
        await transition_sender(
            session,
            sender,
            SenderStatus(decision.status),
            reason=decision.reason,
            transactional_only=decision.transactional_only,
        )
        return sender.status


# -- delivery -------------------------------------------------------------------------------------


async def publish_delivery(runtime: Runtime, message_id: uuid.UUID) -> None:
    await publish(runtime, DELIVER_TASK, {"message_id": str(message_id)})


async def deliver_sms(runtime: Runtime, message_id: uuid.UUID) -> str | None:
    """One delivery attempt of a queued message; returns its status afterwards (None: not ours)."""
    at = now()
    async with runtime.db.session_scope() as session:
        ops = SmsOperatorRepository(session)
        if not await ops.claim_message(message_id, at, at + CLAIM_LEASE):
            return None
        message = await ops.message(message_id)
        assert message is not None
        sender = await ops.sender(message.sender_id)
        if sender is None or sender.status != SenderStatus.ACTIVE:
            await transition_message(
                session,
                message,
                MessageStatus.FAILED,
                error_code="sms_sender_not_active",
                error_message="The SMS sender is no longer active.",
            )
            return message.status
        stopped_at = await optouts.opted_out_at(session, message.tenant_id, message.to, channel="sms")
        # A STOP that arrived while the message waited fails it (issue 18). A message queued after the STOP
        # can only be the platform's own confirmation of it (a tenant's send is refused): that one goes.
        if stopped_at is not None and stopped_at > message.created_at:
            await transition_message(
                session,
                message,
                MessageStatus.FAILED,
                error_code="sms_recipient_opted_out",
                error_message="The recipient opted out of SMS (STOP) before the message was sent.",
            )
            return message.status
        outbound = OutboundSms(
            message_id=str(message.id),
            source=sender.sender_id,
            source_type=sender.sender_type,
            destination=message.to,
            body=message.body,
            concat_ref=message.concat_ref,
            skip_parts=frozenset(p.part_number for p in await ops.parts(message.id)),
        )
    try:
        result = await runtime.sms_channel.get().submit(outbound)
    except Exception as exc:  # a channel bug must not strand the claim for the whole lease
        log.exception("sms_submit_crashed", message_id=str(message_id))
        from tgo.channels.sms_types import SubmitResult

        result = SubmitResult([], "channel_error", str(exc), retryable=True)
    async with runtime.db.session_scope() as session:
        ops = SmsOperatorRepository(session)
        message = await ops.message(message_id, lock=True)
        assert message is not None
        for part in result.accepted:
            await ops.add_part(
                SmsMessagePart(
                    message_id=message.id,
                    part_number=part.number,
                    smsc_message_id=part.smsc_message_id,
                    submitted_at=now(),
                )
            )
        if result.accepted:
            accepted = len(result.accepted)
            after_commit(session, lambda: _count(SMS_PARTS_SUBMITTED, accepted))
        if message.status != MessageStatus.QUEUED:
            return message.status
        if result.ok:
            await transition_message(session, message, MessageStatus.SENT)
            await _settle(session, message)
        elif not result.retryable or message.attempts >= runtime.settings.sms_delivery_max_attempts:
            await transition_message(
                session,
                message,
                MessageStatus.FAILED,
                error_code=result.error_code,
                error_message=result.error_message,
            )
        else:
            message.claimed_until = None
            delay = retry_delay(
                message.attempts,
                base=runtime.settings.delivery_retry_base_seconds,
                cap=runtime.settings.delivery_retry_max_seconds,
            )
            message.next_attempt_at = now() + timedelta(seconds=delay)
            message.error_code, message.error_message = result.error_code, result.error_message
            message.updated_at = now()
            log.info("sms_retry_scheduled", message_id=str(message_id), error=result.error_code)
        return message.status


async def _settle(session: AsyncSession, message: SmsMessage) -> None:
    """Apply the receipts already recorded for its parts to a message just marked ``sent`` (a receipt can
    arrive before the submit's result is written)."""
    move = settlement(message, await SmsOperatorRepository(session).parts(message.id))
    if move is not None:
        await transition_message(
            session, message, move.to, error_code=move.error_code, error_message=move.error_message
        )


async def _count(counter: Any, amount: int) -> None:
    counter.inc(amount)


# -- sweeping -------------------------------------------------------------------------------------


async def sweep(runtime: Runtime) -> dict[str, int]:
    """Decide verifications that are due and re-publish deliveries nobody holds (lost jobs, crashes)."""
    at = now()
    stale = timedelta(seconds=runtime.settings.sweeper_stale_seconds)
    async with runtime.db.session_scope() as session:
        ops = SmsOperatorRepository(session)
        senders = list(await ops.due_pending_senders(at))
        messages = list(await ops.stranded_messages(at, at - stale))
    for sender_id in senders:
        await decide_sender(runtime, sender_id)
    for message_id in messages:
        await publish_delivery(runtime, message_id)
        SWEEPER_REPUBLISHED.labels("sms").inc()
    if runtime.settings.smpp_host:
        await runtime.sms_channel.get().keepalive()
    return {"senders": len(senders), "messages": len(messages)}
