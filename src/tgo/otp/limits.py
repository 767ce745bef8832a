"""The limits that protect a phone's owner, counted in the OTP ledger by phone (and tenant), never by sender
number, so deleting a number and registering it again resets nothing. Every check first locks the phone's
row, so parallel requests from any tenant are counted one after the other:

- per (tenant, phone): a cool-down between two OTPs and a cap per hour (registration and resend alike);
- per (tenant, phone): a cap of wrong codes per 24 h, after which the tenant is locked out of the phone for
  24 h (no new verification, no code accepted);
- per phone, all tenants together: a cap of OTP messages per 24 h (harassment cap)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from tgo.config import Settings
from tgo.errors import AppError
from tgo.kit.clock import now
from tgo.models.otp_event import OtpEventKind
from tgo.otp.repository import OtpLedger

DAY = timedelta(hours=24)
HOUR = timedelta(hours=1)


class OtpResendTooSoon(AppError):
    status_code = 429
    code = "otp_resend_cooldown"


class OtpHourlyLimit(AppError):
    status_code = 429
    code = "otp_hourly_limit"


class OtpDailyLimit(AppError):
    status_code = 429
    code = "otp_daily_limit"


class OtpVerificationLocked(AppError):
    status_code = 429
    code = "otp_verification_locked"

    def __init__(self, wait: timedelta, *, just_locked: bool = False) -> None:
        # A lockout caused by this request's wrong code is kept (committed) and its owner is told.
        super().__init__(params={"hours": _hours(wait)}, headers=_retry_after(wait), persist=just_locked)
        self.just_locked = just_locked


@dataclass(frozen=True)
class OtpLimits:
    max_wrong_attempts: int = 5
    resend_cooldown: timedelta = timedelta(seconds=60)
    max_sends_per_hour: int = 5
    max_wrong_codes_per_day: int = 10
    max_sends_per_phone_per_day: int = 10

    @classmethod
    def of(cls, settings: Settings) -> OtpLimits:
        return cls(
            max_wrong_attempts=settings.otp_max_wrong_attempts,
            resend_cooldown=timedelta(seconds=settings.otp_resend_cooldown_seconds),
            max_sends_per_hour=settings.otp_max_sends_per_hour,
            max_wrong_codes_per_day=settings.otp_max_wrong_codes_per_day,
            max_sends_per_phone_per_day=settings.otp_max_sends_per_phone_per_day,
        )


def _retry_after(wait: timedelta) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(wait.total_seconds())))}


def _hours(wait: timedelta) -> int:
    return max(1, math.ceil(wait.total_seconds() / 3600))


def _wait(until: datetime, current: datetime) -> timedelta:
    return until - current


async def check_not_locked(session: AsyncSession, *, tenant_id: int, phone: str) -> None:
    """Lock the phone's row, then raise 429 otp_verification_locked while the tenant is locked out of it."""
    ledger = OtpLedger(session)
    await ledger.lock_phone(phone)
    current = now()
    await ledger.prune(phone, before=current - 2 * DAY)
    locked_at = await ledger.latest(phone, tenant_id, OtpEventKind.LOCKED, since=current - DAY)
    if locked_at is not None:
        raise OtpVerificationLocked(_wait(locked_at + DAY, current))


async def check_send_allowed(session: AsyncSession, limits: OtpLimits, *, tenant_id: int, phone: str) -> None:
    """Raise 429 (with Retry-After) if one more OTP from this tenant to this phone would break a limit."""
    await check_not_locked(session, tenant_id=tenant_id, phone=phone)
    current = now()
    # A send that never reached Connect does not count against the owner (failed sends are not listed).
    sends = await OtpLedger(session).sends(phone, since=current - DAY)
    if len(sends) >= limits.max_sends_per_phone_per_day:
        oldest_counted = sends[len(sends) - limits.max_sends_per_phone_per_day][1]
        raise OtpDailyLimit(
            params={"hours": _hours(_wait(oldest_counted + DAY, current))},
            headers=_retry_after(_wait(oldest_counted + DAY, current)),
        )
    mine = [at for tenant, at in sends if tenant == tenant_id and at > current - HOUR]
    if mine and mine[-1] > current - limits.resend_cooldown:
        raise OtpResendTooSoon(headers=_retry_after(_wait(mine[-1] + limits.resend_cooldown, current)))
    if len(mine) >= limits.max_sends_per_hour:
        oldest_counted = mine[len(mine) - limits.max_sends_per_hour]
        raise OtpHourlyLimit(headers=_retry_after(_wait(oldest_counted + HOUR, current)))


async def record_send(session: AsyncSession, *, tenant_id: int, phone: str, otp_id: int) -> None:
    await OtpLedger(session).record(phone=phone, tenant_id=tenant_id, kind=OtpEventKind.SENT, otp_id=otp_id)


async def record_wrong_code(session: AsyncSession, limits: OtpLimits, *, tenant_id: int, phone: str) -> bool:
    """Count a wrong code; true when it reaches the day's cap, which locks the tenant out of the phone. The
    caller holds the phone's lock (``check_not_locked``), so parallel wrong codes cannot slip past the cap."""
    ledger = OtpLedger(session)
    await ledger.record(phone=phone, tenant_id=tenant_id, kind=OtpEventKind.WRONG_CODE)
    wrong = await ledger.count(phone, tenant_id, OtpEventKind.WRONG_CODE, since=now() - DAY)
    if wrong < limits.max_wrong_codes_per_day:
        return False
    await ledger.record(phone=phone, tenant_id=tenant_id, kind=OtpEventKind.LOCKED)
    return True


async def mark_send_failed(session: AsyncSession, otp_id: int, at: datetime) -> None:
    await OtpLedger(session).mark_send_failed(otp_id, at)
