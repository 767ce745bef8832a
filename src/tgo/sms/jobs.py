"""The background side of SMS: carrier verification, delivery over the SMS channel, receipts, sweeping.

Every function is idempotent and works from the database (the truth): messages are claimed with a
conditional UPDATE before they are submitted (in batches, ``sms.delivery``), the parts the SMSC accepted are
recorded with their SMSC message ids (so a retry submits only the rest), and receipts are matched by those
ids.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.channels.sms_sandbox import SandboxSmsChannel
from tgo.channels.sms_types import InboundSms, Receipt, SmsChannel
from tgo.db import after_commit
from tgo.kit.clock import now
from tgo.kit.lazy import Lazy
from tgo.metrics import SWEEPER_REPUBLISHED
from tgo.models.sms import SmsSender
from tgo.runtime import Runtime
from tgo.sms.delivery import DELIVER_BATCH_TASK, deliver_batch
from tgo.sms.inbound import apply_inbound
from tgo.sms.receipts import ReceiptBatches
from tgo.sms.repository import SmsOperatorRepository
from tgo.sms.rules import SenderType
from tgo.sms.state import SenderStatus, transition_sender
from tgo.worker.registry import publish

log = structlog.get_logger("tgo.sms")

DELIVER_TASK = "sms.deliver"  # one message (jobs published before batches)
VERIFY_TASK = "sms.verify_sender"
SWEEP_BATCH = 100  # stranded messages re-published per batch job


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
    await publish_deliveries(runtime, [message_id])


async def publish_deliveries(runtime: Runtime, message_ids: Sequence[uuid.UUID]) -> None:
    """One ``sms.deliver_batch`` job for ``message_ids`` (an accepted batch, a sweeper's chunk)."""
    await publish(runtime, DELIVER_BATCH_TASK, {"ids": [str(i) for i in message_ids]})


async def deliver_sms(runtime: Runtime, message_id: uuid.UUID) -> str | None:
    """One delivery attempt of a queued message (a batch of one); returns its status afterwards (None: not
    ours — done, or held by another attempt)."""
    return (await deliver_batch(runtime, [message_id])).get(message_id)


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
    for start in range(0, len(messages), SWEEP_BATCH):
        chunk = messages[start : start + SWEEP_BATCH]
        await publish_deliveries(runtime, chunk)
        SWEEPER_REPUBLISHED.labels("sms").inc(len(chunk))
    if runtime.settings.smpp_host:
        await runtime.sms_channel.get().keepalive()
    return {"senders": len(senders), "messages": len(messages)}
