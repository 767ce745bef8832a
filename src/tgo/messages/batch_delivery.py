"""Delivering a committed batch of accepted messages (issue 16): the send path's group commit publishes one
``messages.deliver_batch`` job per batch, and a worker delivers it set-based — one claim statement, one
opt-out query, the pace taken per sender number for its whole group, one Connect call, and the outcomes
recorded in one transaction with one statement per kind (sent, failed, retry). A duplicate or late job claims
nothing; a crash leaves the claimed rows to the sweeper, and Connect's idempotence by business message id
means a batch partly applied before a crash is never delivered twice. A process holds at most
TGO_DELIVERY_MAX_HELD claimed messages (``pacing.HeldBudget``): jobs beyond it wait unclaimed, and when the
worker stops they hand their ids back to the broker instead of claiming."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import case
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.channels.connect_types import (
    ConnectRejected,
    ConnectUnavailable,
    MediaRef,
    OutboundMessage,
    SendResult,
)
from tgo.kit.backoff import retry_delay
from tgo.kit.clock import now
from tgo.media.signed import signed_url
from tgo.messages.pacing import HeldBudget, pace_many
from tgo.messages.repository import DeliveryQueue, media_of
from tgo.messages.state import MessageStatus, transition_many
from tgo.metrics import DELIVERY_ATTEMPTS
from tgo.models import Media, Message
from tgo.optouts import service as optouts
from tgo.runtime import Runtime
from tgo.worker.registry import publish

log = structlog.get_logger("tgo.messages")

OPTED_OUT_REASON = "The recipient opted out (STOP) before the message was delivered."


@dataclass
class _Outcomes:
    """What a batch's attempt came to, by message id, before it is recorded."""

    sent: dict[int, int] = field(default_factory=dict)  # id -> connect_message_id
    failed: dict[int, tuple[str, str]] = field(default_factory=dict)  # id -> (failure_code, failure_reason)
    retry: dict[int, datetime] = field(default_factory=dict)  # id -> next attempt
    retry_reason: str = ""

    def by_message(self, message_ids: Sequence[int]) -> dict[int, str]:
        def outcome(message_id: int) -> str:
            if message_id in self.sent:
                return "sent"
            if message_id in self.failed:
                return "failed"
            return "retry" if message_id in self.retry else "skipped"

        return {message_id: outcome(message_id) for message_id in dict.fromkeys(message_ids)}


async def deliver_batch(
    runtime: Runtime, message_ids: Sequence[int], request_ids: Mapping[int, str] | None = None
) -> dict[int, str]:
    """One delivery attempt of each message of ``message_ids`` that is still due; idempotent. Returns each
    message's outcome: sent, failed, retry, skipped (not claimable: done, held elsewhere, not due), or
    handed_back (the worker was stopping before it claimed them: their ids went back to the broker).
    ``request_ids``: the request that accepted each message, named by its log line."""
    budget = _held_budget(runtime)
    ids = list(dict.fromkeys(message_ids))
    outcomes: dict[int, str] = {}
    for start in range(0, len(ids), budget.limit):
        chunk = ids[start : start + budget.limit]
        taken = await budget.take(len(chunk))
        if not taken:
            await _hand_back(runtime, ids[start:], request_ids)
            outcomes.update(dict.fromkeys(ids[start:], "handed_back"))
            break
        try:
            outcomes.update(await _deliver_batch(runtime, chunk))
        except Exception:  # the job runner logs it; the rows stay claimed until the sweeper takes them again
            DELIVERY_ATTEMPTS.labels("error").inc(len(chunk))
            raise
        finally:
            await budget.give_back(taken)
    counts: dict[str, int] = {}
    for message_id, outcome in outcomes.items():
        counts[outcome] = counts.get(outcome, 0) + 1
        # One line per message, as a single delivery logs it (with the accepting request's id, if known).
        named = {"request_id": request_ids[message_id]} if request_ids and message_id in request_ids else {}
        log.info("delivery_attempt", message_id=message_id, outcome=outcome, **named)
    for outcome, n in counts.items():
        DELIVERY_ATTEMPTS.labels(outcome).inc(n)
    return outcomes


def _held_budget(runtime: Runtime) -> HeldBudget:
    return runtime.sender_pacer.get().held.hooked(runtime)


async def _hand_back(runtime: Runtime, ids: list[int], request_ids: Mapping[int, str] | None) -> None:
    """Publish the ids of a job the stopping worker had not started on again (another worker takes them); with
    the in-process broker, or if the publish fails, the sweeper finds the rows (never attempted) instead."""
    if runtime.broker.get().is_memory:
        return
    payload: dict[str, Any] = {"ids": ids}
    if request_ids:
        payload["request_ids"] = [request_ids.get(i) for i in ids]
    try:
        await publish(runtime, "messages.deliver_batch", payload)
    except Exception as exc:
        log.warning("hand_back_failed", count=len(ids), error=type(exc).__name__)


async def _deliver_batch(runtime: Runtime, message_ids: Sequence[int]) -> dict[int, str]:
    settings = runtime.settings
    lease = timedelta(seconds=settings.delivery_claim_seconds)
    async with runtime.db.session_scope() as s:
        queue = DeliveryQueue(s)
        claimed = await queue.claim_many(message_ids, now(), lease)
        if not claimed:
            return _Outcomes().by_message(message_ids)
        opted_out = await _opted_out(s, [m for m, _ in claimed])
        media = await media_of(s, [m for m, _ in claimed])
    outcomes = _Outcomes()
    to_send: list[tuple[Message, OutboundMessage]] = []
    for message, sender_name in claimed:
        if message.id in opted_out:  # a STOP arrived while it waited (issue 18)
            outcomes.failed[message.id] = ("recipient_opted_out", OPTED_OUT_REASON)
        else:
            outbound = outbound_of(runtime, message, sender_name, media.get(message.media_id or 0))
            to_send.append((message, outbound))
    # Past half the claim, send anyway rather than let the claim expire and another worker send them too.
    deadline = asyncio.get_running_loop().time() + settings.delivery_claim_seconds / 2
    while to_send:
        batch, to_send = await _paced_round(runtime, to_send, deadline)
        await _send(runtime, batch, outcomes)
    async with runtime.db.session_scope() as s:
        await _record(s, outcomes, now())
    return outcomes.by_message(message_ids)


async def _paced_round(
    runtime: Runtime, pending: list[tuple[Message, OutboundMessage]], deadline: float
) -> tuple[list[tuple[Message, OutboundMessage]], list[tuple[Message, OutboundMessage]]]:
    """The messages that may go now — per sender number, as many as its pace grants at once (all of them when
    the group fits in a second's rate) — and the rest, for the next round."""
    groups: dict[int, list[tuple[Message, OutboundMessage]]] = {}
    for item in pending:
        groups.setdefault(item[0].sender_number_id, []).append(item)
    granted = await asyncio.gather(
        *(pace_many(runtime, sender, len(items), deadline) for sender, items in groups.items())
    )
    now_batch: list[tuple[Message, OutboundMessage]] = []
    later: list[tuple[Message, OutboundMessage]] = []
    for items, n in zip(groups.values(), granted, strict=True):
        now_batch += items[:n]
        later += items[n:]
    return now_batch, later


async def _send(runtime: Runtime, batch: list[tuple[Message, OutboundMessage]], outcomes: _Outcomes) -> None:
    """One Connect call for ``batch``; each message's outcome in ``outcomes``."""
    settings = runtime.settings
    try:
        results: Sequence[SendResult | ConnectRejected] = await runtime.connect.get().deliver_batch(
            [outbound for _, outbound in batch]
        )
    except ConnectUnavailable as exc:
        for message, _ in batch:
            if message.attempts >= settings.delivery_max_attempts:
                outcomes.failed[message.id] = (
                    "connect_unavailable",
                    f"TGO Connect unreachable after {message.attempts} attempts: {exc}",
                )
            else:
                delay = retry_delay(
                    message.attempts,
                    base=settings.delivery_retry_base_seconds,
                    cap=settings.delivery_retry_max_seconds,
                )
                outcomes.retry[message.id] = now() + timedelta(seconds=delay)
        outcomes.retry_reason = f"retrying: {exc}"
        return
    for (message, _), result in zip(batch, results, strict=True):
        if isinstance(result, ConnectRejected):
            outcomes.failed[message.id] = (
                result.reason_code,
                f"Connect refused the message: {result.reason_code}",
            )
        else:
            outcomes.sent[message.id] = result.connect_message_id


async def _record(session: AsyncSession, outcomes: _Outcomes, at: datetime) -> None:
    """The batch's outcomes: one statement (with its history, usage and events) per kind."""
    if outcomes.sent:
        await transition_many(
            session,
            list(outcomes.sent),
            MessageStatus.SENT,
            at,
            connect_message_id=_per_message(outcomes.sent),
        )
    if outcomes.failed:
        await transition_many(
            session,
            list(outcomes.failed),
            MessageStatus.FAILED,
            at,
            failure_code=_per_message({k: v[0] for k, v in outcomes.failed.items()}),
            failure_reason=_per_message({k: v[1][:500] for k, v in outcomes.failed.items()}),
        )
    if outcomes.retry:
        await DeliveryQueue(session).release_many_for_retry(outcomes.retry, outcomes.retry_reason)


def _per_message(values: dict[int, Any]) -> Any:
    """One value for every message, or a ``CASE`` on the message id when they differ (one statement still)."""
    distinct = set(values.values())
    if len(distinct) == 1:
        return next(iter(distinct))
    return case(values, value=Message.id)


async def _opted_out(session: AsyncSession, messages: Sequence[Message]) -> set[int]:
    """The messages of ``messages`` whose recipient went on the tenant's suppression list after they were
    queued (``optouts.service``: one cached lookup per tenant of the batch, then the entry's time for a phone
    that is listed). One queued after the entry is the entry's own confirmation (the send path refuses any
    other), and goes — the rule SMS delivery applies too."""
    phones: dict[int, list[str]] = {}
    for message in messages:
        phones.setdefault(message.tenant_id, []).append(message.to_phone)
    stopped: dict[tuple[int, str], datetime] = {}
    for tenant_id, tenant_phones in phones.items():
        for phone in await optouts.opted_out_among(session, tenant_id, tenant_phones):
            at = await optouts.opted_out_at(session, tenant_id, phone)
            if at is not None:
                stopped[(tenant_id, phone)] = at
    return {
        m.id
        for m in messages
        if (at := stopped.get((m.tenant_id, m.to_phone))) is not None and m.queued_at < at
    }


def outbound_of(runtime: Runtime, message: Message, sender_name: str, media: Media | None) -> OutboundMessage:
    """What Connect is handed for ``message`` (its ``business_message_id`` is ``msg-<id>``)."""
    return OutboundMessage(
        business_message_id=f"msg-{message.id}",
        sender_phone=message.sender_phone,
        sender_name=sender_name,
        to_phone=message.to_phone,
        type=message.message_type,
        content=message.content,
        caption=message.caption,
        media=_media_ref(runtime, media, message.duration),
    )


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
