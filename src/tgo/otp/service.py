"""Sender-number OTPs: 6 digits from a CSPRNG, stored as a salted HMAC, 10-minute validity, a few wrong tries
then void, single use. The limits on sends and wrong codes are counted per phone in ``tgo.otp.limits``."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.errors import Unprocessable
from tgo.kit.clock import now
from tgo.models import SenderOtp
from tgo.otp import limits as otp_limits
from tgo.otp.limits import (
    DAY,
    OtpDailyLimit,
    OtpHourlyLimit,
    OtpLimits,
    OtpResendTooSoon,
    OtpVerificationLocked,
    check_not_locked,
    check_send_allowed,
)

__all__ = [
    "OtpDailyLimit",
    "OtpHourlyLimit",
    "OtpLimits",
    "OtpResendTooSoon",
    "OtpVerificationLocked",
    "check_not_locked",
    "check_send_allowed",
]

OTP_TTL = timedelta(minutes=10)


class OtpInvalid(Unprocessable):
    code = "otp_invalid"


class OtpExpired(Unprocessable):
    code = "otp_expired"


class OtpAttemptsExceeded(Unprocessable):
    code = "otp_attempts_exceeded"


@dataclass(frozen=True)
class IssuedOtp:
    row: SenderOtp
    code: str  # plain code: only ever in memory, on its way into the owner's Connect inbox


def _hash(secret: bytes, salt: str, code: str) -> str:
    return hmac.new(secret, f"{salt}:{code}".encode(), hashlib.sha256).hexdigest()


async def issue(
    session: AsyncSession, secret: bytes, *, tenant_id: int, sender_number_id: int, phone: str
) -> IssuedOtp:
    """Void the previous OTPs of the number, create a new one and count it in the phone's ledger. The caller
    checked ``check_send_allowed`` in this transaction."""
    current = now()
    await session.execute(
        update(SenderOtp)
        .where(
            SenderOtp.sender_number_id == sender_number_id,
            SenderOtp.used_at.is_(None),
            SenderOtp.voided_at.is_(None),
        )
        .values(voided_at=current)
    )
    code = f"{secrets.randbelow(1_000_000):06d}"
    salt = secrets.token_hex(16)
    row = SenderOtp(
        tenant_id=tenant_id,
        sender_number_id=sender_number_id,
        code_hash=_hash(secret, salt, code),
        salt=salt,
        attempts=0,
        created_at=current,
        expires_at=current + OTP_TTL,
    )
    session.add(row)
    await session.flush()
    await otp_limits.record_send(session, tenant_id=tenant_id, phone=phone, otp_id=row.id)
    return IssuedOtp(row=row, code=code)


async def latest(session: AsyncSession, sender_number_id: int) -> SenderOtp | None:
    return await session.scalar(
        select(SenderOtp)
        .where(SenderOtp.sender_number_id == sender_number_id)
        .order_by(SenderOtp.created_at.desc(), SenderOtp.id.desc())
        .limit(1)
    )


async def consume(
    session: AsyncSession,
    secret: bytes,
    limits: OtpLimits,
    *,
    tenant_id: int,
    phone: str,
    sender_number_id: int,
    code: str,
) -> None:
    """Accept ``code`` exactly once, or raise otp_invalid / otp_expired / otp_attempts_exceeded, or
    otp_verification_locked (429) while the tenant is locked out of the phone or when this code locks it."""
    await check_not_locked(session, tenant_id=tenant_id, phone=phone)
    otp = await latest(session, sender_number_id)
    current = now()
    if otp is None or otp.used_at is not None:
        raise OtpExpired()
    if otp.voided_at is not None or otp.attempts >= limits.max_wrong_attempts:
        raise OtpAttemptsExceeded() if otp.attempts >= limits.max_wrong_attempts else OtpExpired()
    if otp.expires_at <= current:
        raise OtpExpired()
    if not hmac.compare_digest(otp.code_hash, _hash(secret, otp.salt, code)):
        # Count the failure atomically: concurrent wrong guesses cannot exceed the limit.
        attempts = await session.scalar(
            update(SenderOtp)
            .where(SenderOtp.id == otp.id, SenderOtp.attempts < limits.max_wrong_attempts)
            .values(attempts=SenderOtp.attempts + 1)
            .returning(SenderOtp.attempts)
        )
        if attempts is None:
            raise OtpAttemptsExceeded(persist=True)
        locked = await otp_limits.record_wrong_code(session, limits, tenant_id=tenant_id, phone=phone)
        if locked or attempts >= limits.max_wrong_attempts:
            await session.execute(update(SenderOtp).where(SenderOtp.id == otp.id).values(voided_at=current))
        if locked:
            raise OtpVerificationLocked(DAY, just_locked=True)
        if attempts >= limits.max_wrong_attempts:
            raise OtpAttemptsExceeded(persist=True)
        raise OtpInvalid(
            params={"remaining": limits.max_wrong_attempts - attempts},
            extra={"attempts_remaining": limits.max_wrong_attempts - attempts},
            persist=True,
        )
    # Single use, also under concurrency: only one caller flips used_at.
    claimed = await session.execute(
        update(SenderOtp)
        .where(SenderOtp.id == otp.id, SenderOtp.used_at.is_(None), SenderOtp.voided_at.is_(None))
        .values(used_at=current)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise OtpExpired()


async def mark_delivery(session: AsyncSession, otp_id: int, *, ok: bool, at: datetime) -> None:
    values = {"delivered_at": at} if ok else {"delivery_failed_at": at}
    await session.execute(update(SenderOtp).where(SenderOtp.id == otp_id).values(**values))
    if not ok:
        await otp_limits.mark_send_failed(session, otp_id, at)
