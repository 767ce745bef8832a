"""What the SMS part hands an SMS channel and gets back (no database, no HTTP)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class OutboundSms:
    message_id: str
    source: str  # the sender ID: alphanumeric text, E.164 number or short code
    source_type: str  # alphanumeric_id | long_code | toll_free | short_code
    destination: str  # E.164
    body: str
    concat_ref: int = 0
    # Parts (1-based) the SMSC already accepted on an earlier attempt: never submitted twice.
    skip_parts: frozenset[int] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class AcceptedPart:
    number: int
    smsc_message_id: str


@dataclass(slots=True)
class SubmitResult:
    accepted: list[AcceptedPart]
    error_code: str | None = None
    error_message: str | None = None
    retryable: bool = False

    @property
    def ok(self) -> bool:
        return self.error_code is None


# Final receipt states (SMPP 3.4 appendix B): DELIVRD, EXPIRED, DELETED, UNDELIV, ACCEPTD, UNKNOWN, REJECTD.
@dataclass(frozen=True, slots=True)
class Receipt:
    smsc_message_id: str
    state: str
    error: str | None = None


# Returns True once the receipt is recorded; False asks the SMSC to deliver it again later.
ReceiptHandler = Callable[[Receipt], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class InboundSms:
    """A mobile-originated SMS (issue 18), its concatenated parts already joined."""

    source: str  # the mobile's number as the SMSC gave it
    destination: str  # the number it was written to (one of the platform's SMS senders)
    body: str


# Returns True once the SMS is stored; False asks the SMSC to deliver it again later.
InboundHandler = Callable[[InboundSms], Awaitable[bool]]


class SmsChannel(Protocol):
    def set_receipt_handler(self, handler: ReceiptHandler) -> None: ...

    def set_inbound_handler(self, handler: InboundHandler) -> None: ...

    async def submit(self, sms: OutboundSms) -> SubmitResult: ...

    async def keepalive(self) -> None:
        """Stay connected so receipts can arrive even when nothing is being sent."""

    async def close(self) -> None: ...


class VerificationDecision(Protocol):
    """A carrier's answer to a sender verification (the sandbox's is ``tgo.sms.rules.Decision``)."""

    @property
    def status(self) -> str:
        """``active``, ``failed`` or ``rejected``."""

    @property
    def reason(self) -> str | None: ...

    @property
    def transactional_only(self) -> bool: ...


class SenderVerifier(Protocol):
    """A carrier/provider that verifies SMS sender identities (the sandbox carrier is the default)."""

    async def verify(
        self, sender_type: str, sender_id: str, country: str, *, brand_taken: bool = False
    ) -> VerificationDecision:
        """The carrier's decision. ``brand_taken``: this platform already has the alphanumeric ID active
        for another organization in ``country`` (what a carrier knows of the brands on its network; the
        sandbox cannot know it alone)."""
