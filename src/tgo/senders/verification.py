"""How a sender number is verified around Connect: the OTP sent to the owner inside Connect (issued in the
caller's transaction, delivered after it commits, its delivery recorded in a transaction of its own), the
notice that tells the owner of a lockout, and Connect's account verification, which every tenant's
registration of the phone follows (SPEC: a number sends once its owner's Connect account is verified)."""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.channels.connect_types import ConnectAccount, ConnectError, OutboundMessage
from tgo.db import after_commit
from tgo.errors import AppError
from tgo.i18n import translate
from tgo.kit.clock import now
from tgo.models import SenderNumber
from tgo.otp import service as otp
from tgo.runtime import Runtime
from tgo.senders.repository import SenderNumbersByPhone
from tgo.senders.state import SenderEvent, apply

log = structlog.get_logger("tgo.senders")


async def send_otp(
    session: AsyncSession, runtime: Runtime, number: SenderNumber, tenant_name: str, account: ConnectAccount
) -> None:
    """Issue an OTP for ``number`` (in the caller's transaction) and send it to the owner inside Connect
    after commit; the delivery's outcome is recorded in a transaction of its own."""
    issued = await otp.issue(
        session,
        runtime.settings.secret(),
        tenant_id=number.tenant_id,
        sender_number_id=number.id,
        phone=number.phone,
    )
    text = translate("otp_message", account.language, organization=tenant_name, code=issued.code, minutes=10)
    message = OutboundMessage(
        business_message_id=f"otp-{number.tenant_id}-{issued.row.id}",
        # A system message about the owner's own number; Connect shows it as from "TGO Business".
        sender_phone=number.phone,
        sender_name="TGO Business",
        to_phone=number.phone,
        type="system",
        content=text,
    )
    otp_id = issued.row.id

    async def deliver() -> None:
        # After commit: the OTP row exists before its code can reach anyone.
        ok = True
        try:
            await runtime.connect.get().deliver(message)
        except ConnectError as exc:
            ok = False
            # The reason (a transport error or Connect's reason code) never holds the message, so no OTP.
            log.warning(
                "otp_delivery_failed",
                sender_number_id=number.id,
                error=type(exc).__name__,
                reason=str(exc)[:200],
            )
        async with runtime.db.session_scope() as s:
            await otp.mark_delivery(s, otp_id, ok=ok, at=now())

    after_commit(session, deliver)


def tell_owner_of_lockout(
    session: AsyncSession, runtime: Runtime, number: SenderNumber, tenant_name: str
) -> None:
    """After commit, a system message in the owner's Connect inbox (the OTP's channel, in their language):
    this organization entered too many wrong codes for their phone and may not ask for codes today."""
    lockout_id = f"otp-locked-{number.tenant_id}-{number.id}-{int(now().timestamp())}"

    async def deliver() -> None:
        client = runtime.connect.get()
        try:
            account = await client.get_account(number.phone)
            language = account.language if account is not None else "en"
            text = translate("otp_lockout_notice", language, organization=tenant_name, phone=number.phone)
            await client.deliver(
                OutboundMessage(
                    business_message_id=lockout_id,
                    sender_phone=number.phone,
                    sender_name="TGO Business",
                    to_phone=number.phone,
                    type="system",
                    content=text,
                )
            )
        except ConnectError as exc:
            log.warning("otp_lockout_notice_failed", sender_number_id=number.id, error=type(exc).__name__)

    after_commit(session, deliver)


async def apply_account_verification(
    session: AsyncSession, phone: str, account_verified: bool
) -> list[SenderNumber]:
    """A Connect account's verification changed: update every tenant's registration of that phone."""
    event = SenderEvent.ACCOUNT_VERIFIED if account_verified else SenderEvent.ACCOUNT_UNVERIFIED
    changed = []
    for number in await SenderNumbersByPhone(session).all(phone):
        try:
            if await apply(session, number, event):
                changed.append(number)
        except AppError:
            continue
    return changed
