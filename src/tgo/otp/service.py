"""Sender-number OTPs: 6 digits from a CSPRNG, stored as a salted HMAC, 10-minute validity, 5 wrong tries then
void, single use, 60 s resend cool-down and 5 sends per number per hour."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.errors import AppError, Unprocessable
from tgo.kit.clock import now
from tgo.models import SenderOtp

OTP_TTL = timedelta(minutes=10)
MAX_WRONG_ATTEMPTS = 5
RESEND_COOLDOWN = timedelta(seconds=60)
MAX_SENDS_PER_HOUR = 5


class OtpInvalid(Unprocessable):
    code = "otp_invalid"


class OtpExpired(Unprocessable):
    code = "otp_expired"


class OtpAttemptsExceeded(Unprocessable):
    code = "otp_attempts_exceeded"


class OtpResendTooSoon(AppError):
    status_code = 429
    code = "otp_resend_cooldown"


class OtpHourlyLimit(AppError):
    status_code = 429
    code = "otp_hourly_limit"


@dataclass(frozen=True)
class IssuedOtp:
    row: SenderOtp
    code: str  # plain code: only ever in memory, on its way into the owner's Connect inbox


def _hash(secret: bytes, salt: str, code: str) -> str:
    return hmac.new(secret, f"{salt}:{code}".encode(), hashlib.sha256).hexdigest()


async def check_send_allowed(session: AsyncSession, sender_number_id: int) -> None:
    """Raise 429 (with Retry-After) if a new OTP would break the cool-down or the hourly cap."""
    current = now()
    recent = list(
        await session.scalars(
            select(SenderOtp)
            .where(
                SenderOtp.sender_number_id == sender_number_id,
                SenderOtp.created_at > current - timedelta(hours=1),
            )
            .order_by(SenderOtp.created_at.desc())
        )
    )
    # A send that never reached Connect does not count against the owner.
    counted = [o for o in recent if o.delivery_failed_at is None]
    if counted and counted[0].created_at > current - RESEND_COOLDOWN:
        wait = counted[0].created_at + RESEND_COOLDOWN - current
        raise OtpResendTooSoon(headers={"Retry-After": str(max(1, math.ceil(wait.total_seconds())))})
    if len(counted) >= MAX_SENDS_PER_HOUR:
        wait = counted[-1].created_at + timedelta(hours=1) - current
        raise OtpHourlyLimit(headers={"Retry-After": str(max(1, math.ceil(wait.total_seconds())))})


async def issue(session: AsyncSession, secret: bytes, *, tenant_id: int, sender_number_id: int) -> IssuedOtp:
    """Void the previous OTPs of the number and create a new one."""
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
    return IssuedOtp(row=row, code=code)


async def latest(session: AsyncSession, sender_number_id: int) -> SenderOtp | None:
    return await session.scalar(
        select(SenderOtp)
        .where(SenderOtp.sender_number_id == sender_number_id)
        .order_by(SenderOtp.created_at.desc(), SenderOtp.id.desc())
        .limit(1)
    )


async def consume(session: AsyncSession, secret: bytes, sender_number_id: int, code: str) -> None:
    """Accept ``code`` exactly once, or raise otp_invalid / otp_expired / otp_attempts_exceeded."""
    otp = await latest(session, sender_number_id)
    current = now()
    if otp is None or otp.used_at is not None:
        raise OtpExpired()
    if otp.voided_at is not None or otp.attempts >= MAX_WRONG_ATTEMPTS:
        raise OtpAttemptsExceeded() if otp.attempts >= MAX_WRONG_ATTEMPTS else OtpExpired()
    if otp.expires_at <= current:
        raise OtpExpired()
    if not hmac.compare_digest(otp.code_hash, _hash(secret, otp.salt, code)):
        # Count the failure atomically: concurrent wrong guesses cannot exceed the limit.
        attempts = await session.scalar(
            update(SenderOtp)
            .where(SenderOtp.id == otp.id, SenderOtp.attempts < MAX_WRONG_ATTEMPTS)
            .values(attempts=SenderOtp.attempts + 1)
            .returning(SenderOtp.attempts)
        )
        if attempts is None or attempts >= MAX_WRONG_ATTEMPTS:
            await session.execute(update(SenderOtp).where(SenderOtp.id == otp.id).values(voided_at=current))
            raise OtpAttemptsExceeded(persist=True)
        raise OtpInvalid(
            params={"remaining": MAX_WRONG_ATTEMPTS - attempts},
            extra={"attempts_remaining": MAX_WRONG_ATTEMPTS - attempts},
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


async def sends_in_last_hour(session: AsyncSession, sender_number_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(SenderOtp)
            .where(
                SenderOtp.sender_number_id == sender_number_id,
                SenderOtp.created_at > now() - timedelta(hours=1),
            )
        )
        or 0
    )
