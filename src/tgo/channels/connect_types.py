"""The contract between TGO Business and a TGO Connect network (what ConnectClient sends and receives)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import msgspec


class ReasonCode(StrEnum):
    """Why a recipient can or cannot receive (SPEC section 6)."""

    OK = "ok"
    NOT_FOUND = "not_found"
    PHONE_NOT_VERIFIED = "phone_not_verified"
    ACCOUNT_DISABLED = "account_disabled"
    BLOCKED_SENDER = "blocked_sender"
    # Business side only (issue 18): the contact is on the tenant's suppression list; Connect never says it.
    OPTED_OUT = "opted_out"


def reason_code(*, exists: bool, disabled: bool, phone_verified: bool, blocked_sender: bool) -> ReasonCode:
    """The one rule for why a phone can or cannot receive (from a sender), first refusal first: Connect's
    lookup and acceptance, and the Business side's reachability directory, both answer with it."""
    if not exists:
        return ReasonCode.NOT_FOUND
    if disabled:
        return ReasonCode.ACCOUNT_DISABLED
    if not phone_verified:
        return ReasonCode.PHONE_NOT_VERIFIED
    if blocked_sender:
        return ReasonCode.BLOCKED_SENDER
    return ReasonCode.OK


class ConnectAccount(msgspec.Struct, kw_only=True):
    id: int
    phone: str  # E.164
    name: str
    language: str  # "en" | "ar"
    phone_verified_at: datetime | None
    account_verified: bool
    account_verified_at: datetime | None = None
    disabled: bool = False


class Lookup(msgspec.Struct, kw_only=True):
    exists: bool
    can_receive: bool
    reason_code: ReasonCode
    recipient_id: int | None
    is_verified: bool
    phone_verified_at: datetime | None


class Reachability(msgspec.Struct, kw_only=True):
    """Everything that decides whether an account's phone can receive, at ``version`` (bumped by Connect with
    each change): pushed as ``account.reachability_changed`` and paged by ``GET /connect/v1/reachability``."""

    phone: str  # E.164
    version: int
    recipient_id: int
    disabled: bool
    phone_verified_at: datetime | None
    account_verified: bool
    blocked_senders: list[str]  # E.164 sender phones this account blocked


class ReachabilityPage(msgspec.Struct, kw_only=True):
    data: list[Reachability]
    next_after: int | None  # pass as ``after`` for the next page; None on the last page


class MediaRef(msgspec.Struct, kw_only=True):
    url: str  # a signed URL on the Business side that serves the file
    content_type: str
    size: int
    filename: str | None = None
    duration: int | None = None


class OutboundMessage(msgspec.Struct, kw_only=True):
    """One Business message for Connect; ``business_message_id`` makes delivery idempotent."""

    business_message_id: str  # globally unique, e.g. "<tenant_id>:<message_id>" or a UUID
    sender_phone: str
    sender_name: str  # organization / display name shown to the recipient
    to_phone: str
    type: str  # text | image | voice | document | system (OTP)
    content: str | None = None
    caption: str | None = None
    media: MediaRef | None = None


class SendResult(msgspec.Struct, kw_only=True):
    connect_message_id: int
    accepted_at: datetime
    duplicate: bool = False  # Connect had already accepted this business_message_id


# Most messages one ``POST /connect/v1/messages:batch`` takes (more is a 422); ConnectClient splits longer lists.
MAX_BATCH_MESSAGES = 500


class OutboundBatch(msgspec.Struct, kw_only=True):
    """The body of ``POST /connect/v1/messages:batch``."""

    messages: list[OutboundMessage]


class BatchItemResult(msgspec.Struct, kw_only=True):
    """One message's outcome in a batch, in the request's order: ``accepted`` (new), ``duplicate`` (accepted
    before: the first acceptance's id and time) or ``refused`` (with the lookup's ``reason_code``, or
    ``validation_failed`` for a malformed item)."""

    business_message_id: str
    status: str  # accepted | duplicate | refused
    connect_message_id: int | None = None
    accepted_at: datetime | None = None
    reason_code: str | None = None
    detail: str | None = None


class BatchAcceptance(msgspec.Struct, kw_only=True):
    results: list[BatchItemResult]


class InboxMessage(msgspec.Struct, kw_only=True):
    id: int
    business_message_id: str
    sender_phone: str
    sender_name: str
    type: str
    content: str | None
    caption: str | None
    media: MediaRef | None
    received_at: datetime
    read_at: datetime | None


class ConnectError(Exception):
    """Base for Connect failures."""


class ConnectUnavailable(ConnectError):
    """Connect could not be reached or answered 5xx/timeout: retry later."""


class ConnectRejected(ConnectError):
    """Connect refused the message permanently (e.g. the recipient cannot receive)."""

    def __init__(self, reason_code: str, detail: str = "") -> None:
        super().__init__(f"{reason_code}: {detail}" if detail else reason_code)
        self.reason_code = reason_code


# Events Connect posts to the Business side (signed); ``data`` shapes:
#   account.verification_changed: {"phone": str, "account_verified": bool, "at": iso}
#   message.delivered:           {"business_message_id": str, "connect_message_id": int, "at": iso}
#   message.read:                {"business_message_id": str, "connect_message_id": int, "at": iso}
#   account.reachability_changed: a Reachability (the account's whole reachability state at its version)
EVENT_ACCOUNT_VERIFICATION_CHANGED = "account.verification_changed"
EVENT_MESSAGE_DELIVERED = "message.delivered"
EVENT_MESSAGE_READ = "message.read"
EVENT_ACCOUNT_REACHABILITY_CHANGED = "account.reachability_changed"
#   message.received:            {"connect_message_id": int, "from_phone": str, "from_name": str,
#                                 "from_language": "en"|"ar", "to_phone": str, "type": str,
#                                 "content": str|None, "caption": str|None,
#                                 "media": {"id", "content_type", "size", "filename"}|None, "sent_at": iso}
#     (a Connect account wrote to a business's sender number; in order per (from_phone, to_phone))
EVENT_MESSAGE_RECEIVED = "message.received"

# Longest text a Connect account may write (as the Business API's own limit).
MAX_TEXT_CHARS = 4096


class ReceivedMedia(msgspec.Struct, kw_only=True):
    """A file a Connect account attached; its bytes are fetched from Connect by ``id``."""

    id: int
    content_type: str
    size: int
    filename: str | None = None


class PhoneMessage(msgspec.Struct, kw_only=True):
    """What Connect answers when an account writes to a business's sender number."""

    id: int
    from_phone: str
    to_phone: str
    type: str
    content: str | None
    caption: str | None
    media: ReceivedMedia | None
    sent_at: datetime
