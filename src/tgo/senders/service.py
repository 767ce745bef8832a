"""Sender numbers: registration, OTP ownership proof, rename, delete, operator actions, in the caller's
session. The OTP's delivery to the owner and Connect's account verification are in ``senders.verification``."""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.channels.connect_types import ConnectAccount, ConnectError
from tgo.errors import Conflict, NotFound, ServiceUnavailable, Unprocessable, ValidationFailed
from tgo.kit.clock import now
from tgo.kit.pagination import check_limit, cursor_id, decode_cursor, encode_cursor
from tgo.kit.phones import normalize_phone
from tgo.models import SenderNumber
from tgo.otp import service as otp
from tgo.runtime import Runtime
from tgo.senders import connect_links
from tgo.senders.repository import SenderNumberOperator, SenderNumberRepository
from tgo.senders.send_cache import publish_sender_change
from tgo.senders.state import SenderEvent, SenderStatus, VerificationStatus, apply
from tgo.senders.verification import send_otp, tell_owner_of_lockout

log = structlog.get_logger("tgo.senders")


class ConnectAccountNotFound(Unprocessable):
    code = "connect_account_not_found"


class SenderNumberExists(Conflict):
    code = "sender_number_exists"


class SenderNotPending(Conflict):
    code = "sender_not_pending_verification"


class SenderNumberNotFound(NotFound):
    code = "not_found"


async def _connect_account(runtime: Runtime, phone: str) -> ConnectAccount | None:
    try:
        return await runtime.connect.get().get_account(phone)
    except ConnectError as exc:
        log.warning("connect_unavailable", op="get_account", error=type(exc).__name__)
        raise ServiceUnavailable("connect_unavailable", headers={"Retry-After": "5"}) from exc


async def register(
    session: AsyncSession,
    runtime: Runtime,
    tenant_id: int,
    tenant_name: str,
    *,
    phone: str,
    display_name: str | None,
) -> SenderNumber:
    """Register a phone (owned by a Connect account) and send its owner an OTP inside Connect."""
    phone = normalize_phone(phone)
    display_name = display_name.strip() if display_name and display_name.strip() else None
    # The phone's lock first: parallel registrations of one phone (any tenant) are checked one by one.
    await otp.check_not_locked(session, tenant_id=tenant_id, phone=phone)
    repo = SenderNumberRepository(session, tenant_id)
    if await repo.get_by_phone(phone) is not None:
        raise SenderNumberExists()
    account = await _connect_account(runtime, phone)
    if account is None:
        raise ConnectAccountNotFound()
    # A registration sends an OTP: the same limits as a resend, checked before any row is written.
    await otp.check_send_allowed(session, _limits(runtime), tenant_id=tenant_id, phone=phone)
    current = now()
    number = await repo.add(
        SenderNumber(
            phone=phone,
            display_name=display_name,
            status=SenderStatus.PENDING_VERIFICATION,
            verification_status=VerificationStatus.PENDING_OTP,
            connect_account_id=account.id,
            status_changed_at=current,
            created_at=current,
            updated_at=current,
        )
    )
    await send_otp(session, runtime, number, tenant_name, account)
    return number


def _limits(runtime: Runtime) -> otp.OtpLimits:
    return otp.OtpLimits.of(runtime.settings)


async def get(session: AsyncSession, tenant_id: int, number_id: int) -> SenderNumber:
    number = await SenderNumberRepository(session, tenant_id).get(number_id)
    if number is None:
        raise SenderNumberNotFound()
    return number


async def list_numbers(
    session: AsyncSession, tenant_id: int, *, limit: int | None, cursor: str | None, status: str | None
) -> tuple[list[SenderNumber], str | None]:
    size = check_limit(limit)
    position = decode_cursor(cursor, "id")
    rows = await SenderNumberRepository(session, tenant_id).list(
        limit=size + 1, before_id=cursor_id(position), status=status
    )
    next_cursor = encode_cursor(id=rows[size - 1].id) if len(rows) > size else None
    return rows[:size], next_cursor


async def verify_otp(
    session: AsyncSession, runtime: Runtime, tenant_id: int, tenant_name: str, number_id: int, code: str
) -> SenderNumber:
    """The owner proves possession; the number becomes active or waits for Connect account verification."""
    repo = SenderNumberRepository(session, tenant_id)
    number = await repo.get(number_id)
    if number is None:
        raise SenderNumberNotFound()
    if number.status != SenderStatus.PENDING_VERIFICATION:
        raise SenderNotPending(params={"status": number.status})
    try:
        await otp.consume(
            session,
            runtime.settings.secret(),
            _limits(runtime),
            tenant_id=tenant_id,
            phone=number.phone,
            sender_number_id=number.id,
            code=code,
        )
    except otp.OtpVerificationLocked as exc:
        if exc.just_locked:
            tell_owner_of_lockout(session, runtime, number, tenant_name)
        raise
    account = await _connect_account(runtime, number.phone)
    verified = bool(account and account.account_verified and not account.disabled)
    await apply(
        session,
        number,
        SenderEvent.OTP_ACCEPTED_ACCOUNT_VERIFIED
        if verified
        else SenderEvent.OTP_ACCEPTED_ACCOUNT_UNVERIFIED,
    )
    return number


async def resend_otp(
    session: AsyncSession, runtime: Runtime, tenant_id: int, tenant_name: str, number_id: int
) -> SenderNumber:
    number = await get(session, tenant_id, number_id)
    if number.status != SenderStatus.PENDING_VERIFICATION:
        raise SenderNotPending(params={"status": number.status})
    await otp.check_send_allowed(session, _limits(runtime), tenant_id=tenant_id, phone=number.phone)
    account = await _connect_account(runtime, number.phone)
    if account is None:
        raise ConnectAccountNotFound()
    await send_otp(session, runtime, number, tenant_name, account)
    return number


MAX_DISPLAY_NAME = 100


async def rename(
    session: AsyncSession, tenant_id: int, number_id: int, display_name: str | None
) -> SenderNumber:
    """Change the name recipients see (blank: the organization's name is shown instead)."""
    name = display_name.strip() if display_name and display_name.strip() else None
    if name is not None and len(name) > MAX_DISPLAY_NAME:
        raise ValidationFailed({"display_name": [f"At most {MAX_DISPLAY_NAME} characters."]})
    number = await get(session, tenant_id, number_id)
    number.display_name = name
    number.updated_at = now()
    await session.flush()
    return number


async def delete(session: AsyncSession, tenant_id: int, number_id: int) -> None:
    """Remove a number from use; its messages (and their sender_number_id) stay."""
    number = await get(session, tenant_id, number_id)
    number.deleted_at = now()
    number.updated_at = number.deleted_at
    await session.flush()
    await publish_sender_change(session, tenant_id)
    connect_links.sync_after_commit(session, number.phone)


async def operator_action(session: AsyncSession, number_id: int, action: str) -> SenderNumber:
    """`tgo sender reject|suspend|unsuspend ID`."""
    number = await SenderNumberOperator(session).get(number_id)
    if number is None:
        raise SenderNumberNotFound()
    await apply(session, number, SenderEvent(action))
    return number


def describe(number: SenderNumber) -> dict[str, Any]:
    from tgo.senders.schemas import sender_number_view

    return sender_number_view(number).to_dict()
