"""The built-in sandbox carrier (embedded default, no TGO_SMPP_HOST): it verifies sender identities by the
rule table it is given (the SMS part's, ``tgo.sms.rules``) and accepts SMS like an SMSC, answering each
part with a receipt.

Scripted by the destination number, so people can try every outcome:
- national number ending in ``0000``: ``UNDELIV`` (undelivered);
- ending in ``0001``: ``REJECTD`` (failed);
- anything else: ``DELIVRD`` (delivered).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from typing import Any

import structlog

from tgo.channels.sms_encoding import split
from tgo.channels.sms_types import (
    AcceptedPart,
    InboundHandler,
    InboundSms,
    OutboundSms,
    Receipt,
    ReceiptHandler,
    SubmitResult,
)

log = structlog.get_logger("tgo.sms_sandbox")


# ``decide(sender_type, sender_id, country, *, brand_taken)``: the verdict of a rule table.
Decide = Callable[..., Any]


class SandboxVerifier:
    """Verification with the sandbox carrier: the documented per-country rule table, ``decide``."""

    def __init__(self, decide: Decide) -> None:
        self.decide = decide

    async def verify(
        self, sender_type: str, sender_id: str, country: str, *, brand_taken: bool = False
    ) -> Any:
        return self.decide(sender_type, sender_id, country, brand_taken=brand_taken)


def scripted_state(destination: str) -> str:
    if destination.endswith("0000"):
        return "UNDELIV"
    if destination.endswith("0001"):
        return "REJECTD"
    return "DELIVRD"


class SandboxSmsChannel:
    def __init__(self, receipt_delay: float = 0.05, redeliveries: int = 20) -> None:
        self.receipt_delay = receipt_delay
        self.redeliveries = redeliveries
        self._handler: ReceiptHandler | None = None
        self._inbound: InboundHandler | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.submitted: list[tuple[str, int]] = []  # (message id, part), for tests and debugging

    def set_receipt_handler(self, handler: ReceiptHandler) -> None:
        self._handler = handler

    def set_inbound_handler(self, handler: InboundHandler) -> None:
        self._inbound = handler

    async def keepalive(self) -> None:
        return None

    async def mobile_originated(self, source: str, destination: str, body: str) -> bool:
        """Simulate a handset writing to one of the platform's numbers (``tgo sms-sandbox mo``); True once
        the platform stored it."""
        if self._inbound is None:
            return False
        return await self._inbound(InboundSms(source=source, destination=destination, body=body))

    async def submit(self, sms: OutboundSms) -> SubmitResult:
        accepted = []
        for number in range(1, len(split(sms.body)) + 1):
            if number in sms.skip_parts:
                continue
            smsc_id = uuid.uuid4().hex
            accepted.append(AcceptedPart(number, smsc_id))
            self.submitted.append((sms.message_id, number))
            self._spawn(self._receipt(Receipt(smsc_id, scripted_state(sms.destination), "000")))
        return SubmitResult(accepted)

    async def _receipt(self, receipt: Receipt) -> None:
        # Like an SMSC, deliver the receipt again until the platform has recorded it.
        delay = self.receipt_delay
        for _ in range(self.redeliveries):
            await asyncio.sleep(delay)
            if self._handler is None:
                continue
            try:
                if await self._handler(receipt):
                    return
            except Exception:
                log.exception("sandbox_receipt_failed")
            delay = min(delay * 2, 5.0)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
