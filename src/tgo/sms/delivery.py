"""Delivering SMS in batches (issue 16 item 4): the accept's group commit publishes one ``sms.deliver_batch``
job per committed batch, and a worker delivers it set-based — one claim statement, one read each of the
batch's senders, opt-outs and already accepted parts, every message submitted through the SMPP window at
once, and the results recorded in one transaction (the accepted parts in one INSERT, the status moves in one
UPDATE per outcome, the retries in one UPDATE).

The guarantees of the one-message flow hold per message: a part the SMSC accepted is recorded with its SMSC
id and never submitted again (a retry skips it); a message the SMSC answered only in part goes on from its
first unanswered part (``channels.smpp``: an unanswered submit is re-submitted once, never twice); a STOP
that arrived while it waited fails it (``sms_recipient_opted_out``); a duplicate or late job claims nothing;
a crash leaves the claims to expire and the sweeper to re-publish them. If the job is cancelled mid-batch
(the worker stops), the results of the messages already answered are still recorded before it ends, so a
stop never makes the SMSC get a part twice that it had answered.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.channels.sms_types import OutboundSms, SmsChannel, SubmitResult
from tgo.db import after_commit
from tgo.errors import backend_unavailable
from tgo.kit.backoff import retry_delay
from tgo.kit.clock import now
from tgo.messages.pacing import HeldBudget
from tgo.metrics import SMS_PARTS_SUBMITTED
from tgo.models.sms import SmsMessage, SmsSender
from tgo.optouts import service as optouts
from tgo.runtime import Runtime
from tgo.sms.receipts import settlement
from tgo.sms.repository import SmsOperatorRepository
from tgo.sms.state import MessageStatus, Move, SenderStatus, transition_messages
from tgo.worker.registry import publish

log = structlog.get_logger("tgo.sms")

DELIVER_BATCH_TASK = "sms.deliver_batch"
# How long one delivery attempt may hold a message before the sweeper may hand it to another worker.
CLAIM_LEASE = timedelta(minutes=5)
# Waits between attempts to record a batch's results while the database is unreachable (then a last one).
RECORD_RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0)

SENDER_NOT_ACTIVE = ("sms_sender_not_active", "The SMS sender is no longer active.")
OPTED_OUT = (
    "sms_recipient_opted_out",
    "The recipient opted out of SMS (STOP) before the message was sent.",
)


async def deliver_batch(runtime: Runtime, message_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """One delivery attempt of each message of ``message_ids`` still queued and free; idempotent. Returns the
    status afterwards of each message this attempt claimed (the others are not in it).

    A process holds at most TGO_DELIVERY_MAX_HELD claimed SMS (``runtime.sms_held``): a batch takes its share
    before it claims, so the claims a worker holds are all submitted well within their lease however many
    batch jobs it has read; a stopping worker hands the ids it has not claimed back to the broker."""
    budget = _held_budget(runtime)
    ids = list(dict.fromkeys(message_ids))
    statuses: dict[uuid.UUID, str] = {}
    for start in range(0, len(ids), budget.limit):
        chunk = ids[start : start + budget.limit]
        taken = await budget.take(len(chunk))
        if not taken:
            await _hand_back(runtime, ids[start:])
            break
        try:
            statuses.update(await _deliver(runtime, chunk))
        finally:
            await budget.give_back(taken)
    return statuses


def _held_budget(runtime: Runtime) -> HeldBudget:
    return runtime.sms_held.get().hooked(runtime)


async def _hand_back(runtime: Runtime, ids: list[uuid.UUID]) -> None:
    """Publish the ids a stopping worker had not claimed again (another worker takes them); with the
    in-process broker, or if the publish fails, the sweeper finds the rows instead."""
    if runtime.broker.get().is_memory:
        return
    try:
        await publish(runtime, DELIVER_BATCH_TASK, {"ids": [str(i) for i in ids]})
    except Exception as exc:
        log.warning("sms_hand_back_failed", count=len(ids), error=type(exc).__name__)


async def _deliver(runtime: Runtime, message_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    at = now()
    async with runtime.db.session_scope() as session:
        claimed, to_submit = await _claim(session, message_ids, at)
        statuses = {m.id: m.status for m in claimed}
    if not to_submit:
        return statuses
    results = await _submit_all(runtime, to_submit)
    statuses.update(results.statuses)
    return statuses


async def _claim(
    session: AsyncSession, message_ids: Sequence[uuid.UUID], at: datetime
) -> tuple[list[SmsMessage], list[tuple[SmsMessage, OutboundSms]]]:
    """Claim the batch, fail what may not go (sender no longer active, recipient opted out since) and build
    what the channel is handed for the rest."""
    ops = SmsOperatorRepository(session)
    claimed = await ops.claim_messages(message_ids, at, at + CLAIM_LEASE)
    if not claimed:
        return [], []
    senders = await ops.senders({m.sender_id for m in claimed})
    stopped = await _opted_out(session, claimed)
    parts = await ops.parts_of([m.id for m in claimed])
    moves: list[Move] = []
    to_submit: list[tuple[SmsMessage, OutboundSms]] = []
    for message in claimed:
        sender = senders.get(message.sender_id)
        if sender is None or sender.status != SenderStatus.ACTIVE:
            moves.append(Move(message.id, MessageStatus.FAILED, *SENDER_NOT_ACTIVE))
        elif message.id in stopped:
            moves.append(Move(message.id, MessageStatus.FAILED, *OPTED_OUT))
        else:
            done = frozenset(p.part_number for p in parts.get(message.id, []))
            to_submit.append((message, _outbound(message, sender, done)))
    await transition_messages(session, moves)
    return claimed, to_submit


def _outbound(message: SmsMessage, sender: SmsSender, skip_parts: frozenset[int]) -> OutboundSms:
    return OutboundSms(
        message_id=str(message.id),
        source=sender.sender_id,
        source_type=sender.sender_type,
        destination=message.to,
        body=message.body,
        concat_ref=message.concat_ref,
        skip_parts=skip_parts,
    )


async def _opted_out(session: AsyncSession, messages: Sequence[SmsMessage]) -> set[uuid.UUID]:
    """The messages whose recipient went on the tenant's SMS list after they were queued (issue 18): one
    cached lookup per tenant of the batch, then the entry's time for a phone that is listed. A message queued
    after the entry can only be the platform's own confirmation of it (a tenant's send is refused): it goes."""
    phones: dict[int, list[str]] = {}
    for message in messages:
        phones.setdefault(message.tenant_id, []).append(message.to)
    stopped: dict[tuple[int, str], datetime] = {}
    for tenant_id, tenant_phones in phones.items():
        for phone in await optouts.opted_out_among(session, tenant_id, tenant_phones, channel="sms"):
            since = await optouts.opted_out_at(session, tenant_id, phone, channel="sms")
            if since is not None:
                stopped[(tenant_id, phone)] = since
    return {
        m.id
        for m in messages
        if (since := stopped.get((m.tenant_id, m.to))) is not None and since > m.created_at
    }


class _Results:
    """The channel's answers as they come in, and the statuses recorded from them."""

    def __init__(self) -> None:
        self.answered: dict[uuid.UUID, SubmitResult] = {}
        self.statuses: dict[uuid.UUID, str] = {}


async def _submit_all(runtime: Runtime, items: list[tuple[SmsMessage, OutboundSms]]) -> _Results:
    """Submit every message at once (the channel's window bounds what is in flight; a message's parts go one
    after the other), then record the results in one transaction. Cancelled part-way (the worker stops), it
    records the results already answered first, then ends."""
    channel = runtime.sms_channel.get()
    results = _Results()
    tasks = [
        asyncio.ensure_future(_submit_one(channel, message.id, outbound, results))
        for message, outbound in items
    ]
    try:
        await asyncio.gather(*tasks)
    except asyncio.CancelledError:
        for task in tasks:
            task.cancel()
        answered = [(m, o) for m, o in items if m.id in results.answered]
        if answered:
            await asyncio.shield(_record_safely(runtime, answered, results))
        raise
    await _record(runtime, [m for m, _ in items], results)
    return results


async def _submit_one(
    channel: SmsChannel, message_id: uuid.UUID, outbound: OutboundSms, results: _Results
) -> None:
    try:
        result = await channel.submit(outbound)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a channel bug must not strand the claim for the whole lease
        log.exception("sms_submit_crashed", message_id=str(message_id))
        result = SubmitResult([], "channel_error", str(exc), retryable=True)
    results.answered[message_id] = result


async def _record_safely(
    runtime: Runtime, answered: list[tuple[SmsMessage, OutboundSms]], results: _Results
) -> None:
    try:
        await _record(runtime, [m for m, _ in answered], results)
    except Exception:  # the claims expire and the sweeper takes the messages again
        log.exception("sms_results_not_recorded", count=len(answered))


async def _record(runtime: Runtime, claimed: list[SmsMessage], results: _Results) -> None:
    """Record the batch's results; tried again a few times while the database is unreachable (once the claims
    expire, the sweeper would re-submit the parts the SMSC accepted: recording them is worth a wait)."""
    for delay in RECORD_RETRY_DELAYS:
        try:
            await _record_once(runtime, claimed, results)
            return
        except Exception as exc:
            if not backend_unavailable(exc):
                raise
            log.warning("sms_results_retry", count=len(claimed), error=type(exc).__name__)
        await asyncio.sleep(delay)
    await _record_once(runtime, claimed, results)


async def _record_once(runtime: Runtime, claimed: list[SmsMessage], results: _Results) -> None:
    settings = runtime.settings
    async with runtime.db.session_scope() as session:
        ops = SmsOperatorRepository(session)
        ids = [m.id for m in claimed]
        # Locked in id order (as a receipt batch locks them): no cycle with a batch of receipts.
        messages = await ops.messages_for_update(ids)
        at = now()
        parts = [
            {
                "message_id": message_id,
                "part_number": part.number,
                "smsc_message_id": part.smsc_message_id,
                "submitted_at": at,
            }
            for message_id in ids
            for part in results.answered[message_id].accepted
        ]
        await ops.add_parts(parts)
        if parts:
            accepted = len(parts)
            after_commit(session, lambda: _count_parts(accepted))
        moves: list[Move] = []
        retry: dict[uuid.UUID, tuple[datetime, str | None, str | None]] = {}
        for message in messages:
            result = results.answered[message.id]
            if message.status != MessageStatus.QUEUED:
                continue
            if result.ok:
                moves.append(Move(message.id, MessageStatus.SENT))
            elif not result.retryable or message.attempts >= settings.sms_delivery_max_attempts:
                moves.append(Move(message.id, MessageStatus.FAILED, result.error_code, result.error_message))
            else:
                delay = retry_delay(
                    message.attempts,
                    base=settings.delivery_retry_base_seconds,
                    cap=settings.delivery_retry_max_seconds,
                )
                retry[message.id] = (at + timedelta(seconds=delay), result.error_code, result.error_message)
                log.info("sms_retry_scheduled", message_id=str(message.id), error=result.error_code)
        moved = await transition_messages(session, moves)
        await _settle(session, [m for m in moved if m.status == MessageStatus.SENT])
        await ops.release_for_retry(retry, at)
    results.statuses.update({m.id: m.status for m in messages})
    results.statuses.update(dict.fromkeys(retry, MessageStatus.QUEUED.value))


async def _settle(session: AsyncSession, sent: list[SmsMessage]) -> None:
    """Apply the receipts already recorded for the parts of messages just marked ``sent`` (a receipt can
    arrive before the submit's result is written)."""
    if not sent:
        return
    parts = await SmsOperatorRepository(session).parts_of([m.id for m in sent])
    moves = [m for m in (settlement(msg, parts.get(msg.id, [])) for msg in sent) if m is not None]
    await transition_messages(session, moves)


async def _count_parts(amount: int) -> None:
    SMS_PARTS_SUBMITTED.inc(amount)
