"""The sender-number state machine (SPEC section 4): every change goes through ``apply``."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from tgo import events
from tgo.errors import Conflict
from tgo.kit.clock import now
from tgo.models import SenderNumber
from tgo.senders.send_cache import publish_sender_change


class SenderStatus(StrEnum):
    PENDING_VERIFICATION = "pending_verification"
    ACTIVE = "active"
    PENDING_ACCOUNT_VERIFICATION = "pending_account_verification"
    REJECTED = "rejected"
    SUSPENDED = "suspended"


class VerificationStatus(StrEnum):
    PENDING_OTP = "pending_otp"
    PENDING_ACCOUNT_VERIFICATION = "pending_account_verification"
    VERIFIED = "verified"


class SenderEvent(StrEnum):
    OTP_ACCEPTED_ACCOUNT_VERIFIED = "otp_accepted_account_verified"
    OTP_ACCEPTED_ACCOUNT_UNVERIFIED = "otp_accepted_account_unverified"
    ACCOUNT_VERIFIED = "account_verified"
    ACCOUNT_UNVERIFIED = "account_unverified"
    REJECT = "reject"
    SUSPEND = "suspend"
    UNSUSPEND = "unsuspend"


S, V, E = SenderStatus, VerificationStatus, SenderEvent


class SendRefusal(StrEnum):
    """Why a number may not send (the error codes of the send path's sender checks)."""

    SENDER_NOT_ACTIVE = "sender_not_active"
    OWNER_NOT_VERIFIED = "sender_owner_not_verified"


def send_refusal(status: str, verification_status: str) -> SendRefusal | None:
    """The one rule for "may this number send": only an active number whose owner is verified (SPEC
    section 4's ``can_send``). When it may not, the check of SPEC section 5 that refuses it first: the
    status (``active`` or ``pending_account_verification`` pass), then the owner's verification."""
    if status == S.ACTIVE and verification_status == V.VERIFIED:
        return None
    if status in (S.ACTIVE, S.PENDING_ACCOUNT_VERIFICATION) and verification_status != V.VERIFIED:
        return SendRefusal.OWNER_NOT_VERIFIED
    return SendRefusal.SENDER_NOT_ACTIVE


def can_send(number: SenderNumber) -> bool:
    """Derived, never stored: ``send_refusal`` finds nothing against the number."""
    return send_refusal(number.status, number.verification_status) is None


def _target(number: SenderNumber, event: SenderEvent) -> tuple[str, str] | None:
    """The (status, verification_status) an event leads to, or None if it is not allowed from here."""
    status, vs = number.status, number.verification_status
    if event in (E.OTP_ACCEPTED_ACCOUNT_VERIFIED, E.OTP_ACCEPTED_ACCOUNT_UNVERIFIED):
        if status != S.PENDING_VERIFICATION:
            return None
        if event == E.OTP_ACCEPTED_ACCOUNT_VERIFIED:
            return S.ACTIVE, V.VERIFIED
        return S.PENDING_ACCOUNT_VERIFICATION, V.PENDING_ACCOUNT_VERIFICATION
    if event == E.ACCOUNT_VERIFIED:
        # Only after the OTP step; a suspended or rejected number keeps its status.
        if number.otp_verified_at is None:
            return status, vs
        if status == S.PENDING_ACCOUNT_VERIFICATION:
            return S.ACTIVE, V.VERIFIED
        return status, V.VERIFIED
    if event == E.ACCOUNT_UNVERIFIED:
        if number.otp_verified_at is None:
            return status, vs
        # An active number stays active; it just cannot send until the owner is verified again.
        return status, V.PENDING_ACCOUNT_VERIFICATION
    if event == E.REJECT:
        return (S.REJECTED, vs) if status != S.REJECTED else None
    if event == E.SUSPEND:
        return (S.SUSPENDED, vs) if status not in (S.SUSPENDED, S.REJECTED) else None
    if event == E.UNSUSPEND:
        if status != S.SUSPENDED:
            return None
        if number.otp_verified_at is None:
            return S.PENDING_VERIFICATION, vs
        return (S.ACTIVE if vs == V.VERIFIED else S.PENDING_ACCOUNT_VERIFICATION), vs
    return None


async def apply(session: AsyncSession, number: SenderNumber, event: SenderEvent) -> bool:
    """Check the transition, stamp the times, emit ``sender_number.status_changed``; True if anything changed.

    Raises Conflict (409 ``invalid_sender_transition``) when the event is not allowed from the current status.
    """
    target = _target(number, event)
    if target is None:
        raise Conflict("invalid_sender_transition", params={"status": number.status})
    status, vs = target
    if (status, vs) == (number.status, number.verification_status):
        return False
    at = now()
    previous = number.status
    if event in (E.OTP_ACCEPTED_ACCOUNT_VERIFIED, E.OTP_ACCEPTED_ACCOUNT_UNVERIFIED):
        number.otp_verified_at = at
    if vs == V.VERIFIED and number.verification_status != V.VERIFIED:
        number.account_verified_at = at
    if status == S.ACTIVE and number.activated_at is None:
        number.activated_at = at
    number.status, number.verification_status = status, vs
    number.updated_at = at
    if status != previous:
        number.status_changed_at = at
    await session.flush()
    from tgo.senders.schemas import sender_number_view

    data = sender_number_view(number).to_dict()
    data["previous_status"] = previous
    await events.emit(session, number.tenant_id, events.EventType.SENDER_NUMBER_STATUS_CHANGED, data)
    await publish_sender_change(session, number.tenant_id)
    return True
