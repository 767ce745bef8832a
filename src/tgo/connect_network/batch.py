"""Batch acceptance of Business messages (``POST /connect/v1/messages:batch``, issue 16): the rules of
``service.accept_message`` for up to ``MAX_BATCH_MESSAGES`` messages in one transaction — each message
accepted once per ``business_message_id`` (a retry, or the same id twice in a batch, is a ``duplicate`` with
the first acceptance's id), or refused alone with the lookup's ``reason_code``. Never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.channels.connect_types import (
    EVENT_MESSAGE_DELIVERED,
    MAX_BATCH_MESSAGES,
    BatchItemResult,
    OutboundMessage,
    ReasonCode,
    reason_code,
)
from tgo.errors import ValidationFailed
from tgo.kit.clock import now, utc_iso

from .outbound import check_outbound
from .repository import ConnectRepository
from .service import EVENTS_WRITTEN


@dataclass(frozen=True)
class _Checked:
    index: int
    bid: str
    to: str
    sender: str
    message: OutboundMessage


def _refused(bid: str, reason: str, detail: str | None = None) -> BatchItemResult:
    return BatchItemResult(business_message_id=bid, status="refused", reason_code=reason, detail=detail)


def _validated(messages: Sequence[OutboundMessage]) -> tuple[list[_Checked], dict[int, BatchItemResult]]:
    checked: list[_Checked] = []
    refused: dict[int, BatchItemResult] = {}
    for index, message in enumerate(messages):
        try:
            to, sender = check_outbound(message)
        except ValidationFailed as exc:
            errors: dict[str, list[str]] = exc.extra.get("errors", {})
            detail = "; ".join(f"{field}: {' '.join(errs)}" for field, errs in errors.items())
            refused[index] = _refused(message.business_message_id, "validation_failed", detail)
            continue
        bid = message.business_message_id.strip()
        checked.append(_Checked(index, bid, to, sender, message))
    return checked, refused


async def accept_messages(
    session: AsyncSession, messages: Sequence[OutboundMessage]
) -> list[BatchItemResult]:
    """Place each message in its recipient's inbox once; one result per message, in order. Raises
    ValidationFailed (422) for an empty batch or one longer than ``MAX_BATCH_MESSAGES``."""
    if not messages or len(messages) > MAX_BATCH_MESSAGES:
        raise ValidationFailed({"messages": [f"Between 1 and {MAX_BATCH_MESSAGES} messages per batch."]})
    at = now()
    repo = ConnectRepository(session)
    checked, results = _validated(messages)
    attempts: dict[str, int] = {}
    for message in messages:
        bid = message.business_message_id.strip()[:200]
        if bid:
            attempts[bid] = attempts.get(bid, 0) + 1
    await repo.count_attempts(attempts, at)

    known = await repo.messages_by_business_ids([c.bid for c in checked])  # accepted before: duplicates
    firsts: dict[str, _Checked] = {}
    for c in checked:
        if c.bid not in known:
            firsts.setdefault(c.bid, c)
    accounts = await repo.accounts_by_phones([c.to for c in firsts.values()])
    blocked = await repo.blocked_pairs(
        [
            (accounts[c.to].id, c.sender)
            for c in firsts.values()
            if c.to in accounts and c.message.type != "system"
        ]
    )
    rows: list[dict[str, Any]] = []
    for c in firsts.values():
        account = accounts.get(c.to)
        # Platform messages (the OTP) are not from the business number, so a block does not apply.
        reason = reason_code(
            exists=account is not None,
            disabled=bool(account and account.disabled),
            phone_verified=bool(account and account.phone_verified_at is not None),
            blocked_sender=bool(account and c.message.type != "system" and (account.id, c.sender) in blocked),
        )
        if reason is not ReasonCode.OK or account is None:
            results[c.index] = _refused(c.bid, reason.value)
            continue
        rows.append(
            {
                "business_message_id": c.bid,
                "account_id": account.id,
                "sender_phone": c.sender,
                "sender_name": c.message.sender_name[:200],
                "type": c.message.type,
                "content": c.message.content,
                "caption": c.message.caption,
                "media": msgspec.to_builtins(c.message.media) if c.message.media else None,
                "received_at": at,
                "read_at": None,
            }
        )
    written = await repo.insert_inbox_messages(rows)
    raced = [r["business_message_id"] for r in rows if r["business_message_id"] not in written]
    if raced:  # a concurrent request accepted them first: answer with its acceptance
        known.update(await repo.messages_by_business_ids(raced))
    await _record_delivered(session, repo, written, at)
    accepted: dict[str, tuple[int, datetime]] = {bid: (mid, at) for bid, mid in written.items()}
    answered: set[str] = set()
    for c in checked:
        if c.index in results:
            continue
        if c.bid in accepted and c.bid not in answered:
            answered.add(c.bid)
            mid, when = accepted[c.bid]
            results[c.index] = BatchItemResult(
                business_message_id=c.bid, status="accepted", connect_message_id=mid, accepted_at=when
            )
            continue
        first = accepted.get(c.bid) or known.get(c.bid)
        if first is None:  # the same refused id twice in one batch: refused again, for the same reason
            earlier = next(r for i, r in results.items() if r.business_message_id == c.bid)
            results[c.index] = _refused(c.bid, earlier.reason_code or "rejected", earlier.detail)
            continue
        results[c.index] = BatchItemResult(
            business_message_id=c.bid, status="duplicate", connect_message_id=first[0], accepted_at=first[1]
        )
    return [results[i] for i in range(len(messages))]


async def _record_delivered(
    session: AsyncSession, repo: ConnectRepository, written: dict[str, int], at: datetime
) -> None:
    """The ``message.delivered`` event of each new message (the outbox the pump posts from), in one INSERT."""
    if not written:
        return
    await repo.insert_events(
        [
            {
                "event_id": uuid.uuid4().hex,
                "type": EVENT_MESSAGE_DELIVERED,
                "data": {"business_message_id": bid, "connect_message_id": mid, "at": utc_iso(at)},
                "attempts": 0,
                "created_at": at,
                "next_attempt_at": at,
            }
            for bid, mid in sorted(written.items(), key=lambda kv: kv[1])
        ]
    )
    session.info[EVENTS_WRITTEN] = True
