"""SMS delivery receipts (``deliver_sm``) applied in batches (issue 16 item 4): the receipts that arrive
together — on any bind of the process — are recorded in one transaction (``tgo.group_commit``): their parts
found by SMSC message id in one query, their messages locked in one, the receipts written, and the messages
they settle moved in one UPDATE per outcome (``sms.state.transition_messages``), each with its event.

A receipt whose part is not recorded yet (it overtook its own ``submit_sm_resp`` being written) is tried
again in a later batch for up to ``RECEIPT_WAIT_SECONDS``; after that, or when the database cannot be
reached, the SMSC is asked to deliver it again later (``False``)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.channels.sms_types import Receipt
from tgo.db import Database, after_commit
from tgo.group_commit import GroupCommit
from tgo.kit.clock import now
from tgo.metrics import SMS_RECEIPTS
from tgo.models.sms import SmsMessage, SmsMessagePart
from tgo.sms.repository import SmsOperatorRepository
from tgo.sms.state import MessageStatus, Move, transition_messages

log = structlog.get_logger("tgo.sms.receipts")

DELIVERED_STATES = frozenset({"DELIVRD"})
UNDELIVERED_STATES = frozenset({"UNDELIV", "EXPIRED"})
FAILED_STATES = frozenset({"REJECTD", "DELETED", "UNKNOWN"})
FINAL_STATES = DELIVERED_STATES | UNDELIVERED_STATES | FAILED_STATES
# How long a receipt waits for its submit to be recorded before the SMSC is asked to send it again.
RECEIPT_WAIT_SECONDS = 10.0
MAX_BATCH = 500
BATCH_WINDOW_SECONDS = 0.005


def settlement(message: SmsMessage, parts: Sequence[SmsMessagePart]) -> Move | None:
    """What the parts' receipts decide for a ``sent`` message: any final failure decides, else all parts
    delivered; None while undecided (or when the message is not ``sent``)."""
    if message.status != MessageStatus.SENT:
        return None
    for part in parts:
        state = part.receipt_state or ""
        if state in UNDELIVERED_STATES | FAILED_STATES:
            return Move(
                message.id,
                MessageStatus.UNDELIVERED if state in UNDELIVERED_STATES else MessageStatus.FAILED,
                state,
                f"The carrier reported {state} (error {part.receipt_error or '000'}).",
            )
    if len(parts) >= message.segments and all(p.receipt_state in DELIVERED_STATES for p in parts):
        return Move(message.id, MessageStatus.DELIVERED)
    return None


async def write_receipts(session: AsyncSession, receipts: Sequence[Receipt]) -> list[bool]:
    """Record a batch of final receipts in the session's transaction; per receipt, whether its part is
    known (an unknown one is tried again later). A receipt the part already has (redelivered) changes
    nothing."""
    ops = SmsOperatorRepository(session)
    known = await ops.parts_by_smsc_ids(sorted({r.smsc_message_id for r in receipts}))
    message_ids = sorted({part.message_id for part in known.values()})
    if message_ids:
        messages = await ops.messages_for_update(message_ids)
        parts = await ops.parts_of(message_ids)  # read again under the locks
        by_id = {p.id: p for found in parts.values() for p in found}
        at = now()
        recorded: Counter[str] = Counter()
        for receipt in receipts:
            matched = known.get(receipt.smsc_message_id)
            part = by_id.get(matched.id) if matched is not None else None
            if part is not None and part.receipt_state is None:
                part.receipt_state = receipt.state
                part.receipt_error = (receipt.error or "")[:20] or None
                part.receipt_at = at
                recorded[receipt.state] += 1
        await session.flush()
        moves = [m for m in (settlement(msg, parts.get(msg.id, [])) for msg in messages) if m is not None]
        await transition_messages(session, moves)

        async def count() -> None:
            for state, n in recorded.items():
                SMS_RECEIPTS.labels(state).inc(n)

        after_commit(session, count)
    return [r.smsc_message_id in known for r in receipts]


class ReceiptBatches:
    """The process's receipts, applied in batches (one per SMS channel, built by ``sms.jobs``)."""

    def __init__(self, db: Database, *, max_batch: int = MAX_BATCH) -> None:
        self._commit: GroupCommit[Receipt, bool] = GroupCommit(
            db.sessionmaker,
            write_receipts,
            window=BATCH_WINDOW_SECONDS,
            max_batch=max_batch,
        )

    @property
    def batches(self) -> int:
        return self._commit.batches

    async def apply(self, receipt: Receipt) -> bool:
        """Record ``receipt``; False when it cannot be now (the SMSC will deliver it again)."""
        if receipt.state not in FINAL_STATES:
            return True  # ENROUTE, ACCEPTD: nothing to change
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RECEIPT_WAIT_SECONDS
        delay = 0.02
        while True:
            try:
                if await self._commit.submit(receipt):
                    return True
            except Exception as exc:
                log.warning("sms_receipt_not_recorded", error=type(exc).__name__)
                return False
            if loop.time() >= deadline:
                log.warning("sms_receipt_unmatched", smsc_message_id=receipt.smsc_message_id)
                return False
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)
