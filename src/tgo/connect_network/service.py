"""The rules of the Connect network: accounts, verification, blocks, lookup, idempotent acceptance of
Business messages into inboxes, and the events it owes the Business side. Never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import msgspec
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.channels.connect_protocol import InvalidPhone, normalize_phone
from tgo.channels.connect_types import (
    EVENT_ACCOUNT_REACHABILITY_CHANGED,
    EVENT_ACCOUNT_VERIFICATION_CHANGED,
    EVENT_MESSAGE_DELIVERED,
    EVENT_MESSAGE_READ,
    ConnectAccount,
    InboxMessage,
    Lookup,
    MediaRef,
    OutboundMessage,
    Reachability,
    ReachabilityPage,
    ReasonCode,
    reason_code,
)
from tgo.errors import AppError, Conflict, NotFound, ValidationFailed
from tgo.kit.clock import now, utc_iso
from tgo.kit.pagination import check_limit, cursor_id, decode_cursor, encode_cursor

from .models import ConnectAccountRow, ConnectBlockRow, ConnectEventRow, ConnectInboxMessageRow
from .outbound import check_outbound
from .repository import ConnectRepository

LANGUAGES = ("en", "ar")
# session.info flag: this transaction wrote events, so the pump may run as soon as it commits.
EVENTS_WRITTEN = "connect_events_written"
# session.info list: the reachability events this transaction wrote; the request that made the change is
# answered once the Business side has them (bounded wait), so what the changer sees is what sends see.
REACHABILITY_WRITTEN = "connect_reachability_written"


class AccountNotFound(NotFound):
    code = "account_not_found"
    message_key = "connect.account_not_found"


class AccountExists(Conflict):
    code = "account_exists"
    message_key = "connect.account_exists"


class InboxMessageNotFound(NotFound):
    code = "message_not_found"
    message_key = "connect.message_not_found"


class ReasonRefusal(AppError):
    """A 422 whose ``code`` and ``reason_code`` are one of the lookup reason codes, with the message
    ``{message_prefix}.{reason}``."""

    status_code = 422
    message_prefix: ClassVar[str]

    def __init__(self, reason: ReasonCode) -> None:
        super().__init__(f"{self.message_prefix}.{reason.value}")
        self.reason = reason

    def body(self, lang: str) -> dict[str, Any]:
        body = super().body(lang)
        body["code"] = self.reason.value
        body["reason_code"] = self.reason.value
        return body


class RecipientCannotReceive(ReasonRefusal):
    """Acceptance refused: the recipient cannot receive."""

    code = "recipient_cannot_receive"
    message_prefix = "connect.reason"


def phone_or_422(value: str, field: str = "phone") -> str:
    try:
        return normalize_phone(value)
    except InvalidPhone:
        raise ValidationFailed(
            {field: ["Not a valid phone number in E.164 format (+<country><number>)."]}
        ) from None


def to_account(row: ConnectAccountRow) -> ConnectAccount:
    return ConnectAccount(
        id=row.id,
        phone=row.phone,
        name=row.name,
        language=row.language,
        phone_verified_at=row.phone_verified_at,
        account_verified=row.account_verified,
        account_verified_at=row.account_verified_at,
        disabled=row.disabled,
    )


def to_inbox_message(row: ConnectInboxMessageRow) -> InboxMessage:
    return InboxMessage(
        id=row.id,
        business_message_id=row.business_message_id,
        sender_phone=row.sender_phone,
        sender_name=row.sender_name,
        type=row.type,
        content=row.content,
        caption=row.caption,
        media=msgspec.convert(row.media, MediaRef) if row.media else None,
        received_at=row.received_at,
        read_at=row.read_at,
    )


async def _record_event(session: AsyncSession, event_type: str, data: dict[str, Any]) -> ConnectEventRow:
    row = ConnectEventRow(event_id=uuid.uuid4().hex, type=event_type, data=data, attempts=0)
    session.add(row)
    session.info[EVENTS_WRITTEN] = True
    return row


def reachability_of(row: ConnectAccountRow, version: int, blocked: list[str]) -> Reachability:
    return Reachability(
        phone=row.phone,
        version=version,
        recipient_id=row.id,
        disabled=row.disabled,
        phone_verified_at=row.phone_verified_at,
        account_verified=row.account_verified,
        blocked_senders=blocked,
    )


async def reachability_changed(session: AsyncSession, row: ConnectAccountRow) -> None:
    """Bump the account's reachability version and record its whole reachability state as an event (the one
    place every change of it — created, phone verified, account verified, disabled, blocks — goes through)."""
    await session.flush()
    repo = ConnectRepository(session)
    version = await repo.bump_reachability_version(row.id)
    row.reachability_version = version
    blocked = (await repo.blocked_senders([row.id]))[row.id]
    event = await _record_event(
        session,
        EVENT_ACCOUNT_REACHABILITY_CHANGED,
        msgspec.to_builtins(reachability_of(row, version, blocked)),
    )
    await session.flush()
    session.info.setdefault(REACHABILITY_WRITTEN, []).append(event)


async def reachability_page(session: AsyncSession, after: int, limit: int) -> ReachabilityPage:
    """Every account's reachability, by id (the Business side's bulk sync)."""
    limit = check_limit(limit)
    repo = ConnectRepository(session)
    rows = list(await repo.accounts_after(after, limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    blocked = await repo.blocked_senders([r.id for r in rows])
    return ReachabilityPage(
        data=[reachability_of(r, r.reachability_version, blocked[r.id]) for r in rows],
        next_after=rows[-1].id if more else None,
    )


async def _account(session: AsyncSession, phone: str) -> ConnectAccountRow:
    row = await ConnectRepository(session).account_by_phone(phone_or_422(phone))
    if row is None:
        raise AccountNotFound()
    return row


async def create_account(
    session: AsyncSession,
    *,
    phone: str,
    name: str | None = None,
    language: str = "en",
    phone_verified: bool = True,
    account_verified: bool = False,
) -> ConnectAccount:
    """A new account; its phone is verified unless asked otherwise (people sign up with their phone)."""
    e164 = phone_or_422(phone)
    if language not in LANGUAGES:
        raise ValidationFailed({"language": ["Must be one of: en, ar."]})
    if name is not None and len(name) > 200:
        raise ValidationFailed({"name": ["At most 200 characters."]})
    repo = ConnectRepository(session)
    if await repo.account_by_phone(e164) is not None:
        raise AccountExists()
    at = now()
    row = ConnectAccountRow(
        phone=e164,
        name=(name or "").strip() or e164,
        language=language,
        phone_verified_at=at if phone_verified else None,
        account_verified=account_verified,
        account_verified_at=at if account_verified else None,
        disabled=False,
        created_at=at,
    )
    session.add(row)
    await session.flush()
    if account_verified:
        await _record_event(
            session,
            EVENT_ACCOUNT_VERIFICATION_CHANGED,
            {"phone": e164, "account_verified": True, "at": utc_iso(at)},
        )
    await reachability_changed(session, row)
    return to_account(row)


async def get_account(session: AsyncSession, phone: str) -> ConnectAccount:
    return to_account(await _account(session, phone))


async def set_account_verified(session: AsyncSession, phone: str, verified: bool) -> ConnectAccount:
    """Verify or unverify an account; a real change notifies the Business side."""
    row = await _account(session, phone)
    if row.account_verified != verified:
        at = now()
        row.account_verified = verified
        row.account_verified_at = at if verified else None
        await _record_event(
            session,
            EVENT_ACCOUNT_VERIFICATION_CHANGED,
            {"phone": row.phone, "account_verified": verified, "at": utc_iso(at)},
        )
        await reachability_changed(session, row)
    return to_account(row)


async def set_phone_verified(session: AsyncSession, phone: str, verified: bool) -> ConnectAccount:
    row = await _account(session, phone)
    was = row.phone_verified_at
    if verified and row.phone_verified_at is None:
        row.phone_verified_at = now()
    elif not verified:
        row.phone_verified_at = None
    if row.phone_verified_at != was:
        await reachability_changed(session, row)
    return to_account(row)


async def set_disabled(session: AsyncSession, phone: str, disabled: bool) -> ConnectAccount:
    row = await _account(session, phone)
    if row.disabled != disabled:
        row.disabled = disabled
        row.disabled_at = now() if disabled else None
        await reachability_changed(session, row)
    return to_account(row)


@dataclass
class Block:
    phone: str
    sender_phone: str
    created_at: datetime


async def block_sender(session: AsyncSession, phone: str, sender_phone: str) -> Block:
    """The account stops receiving from ``sender_phone`` (idempotent)."""
    row = await _account(session, phone)
    sender = phone_or_422(sender_phone, "sender_phone")
    repo = ConnectRepository(session)
    existing = await repo.block(row.id, sender)
    if existing is None:
        existing = ConnectBlockRow(account_id=row.id, sender_phone=sender, created_at=now())
        session.add(existing)
        await session.flush()
        await reachability_changed(session, row)
    return Block(phone=row.phone, sender_phone=sender, created_at=existing.created_at)


async def unblock_sender(session: AsyncSession, phone: str, sender_phone: str) -> None:
    row = await _account(session, phone)
    existing = await ConnectRepository(session).block(row.id, phone_or_422(sender_phone, "sender_phone"))
    if existing is not None:
        await session.delete(existing)
        await reachability_changed(session, row)


async def list_blocks(session: AsyncSession, phone: str) -> list[Block]:
    row = await _account(session, phone)
    return [
        Block(phone=row.phone, sender_phone=b.sender_phone, created_at=b.created_at)
        for b in await ConnectRepository(session).blocks(row.id)
    ]


async def _reason(
    repo: ConnectRepository, row: ConnectAccountRow | None, sender_phone: str | None
) -> ReasonCode:
    reason = reason_code(
        exists=row is not None,
        disabled=bool(row and row.disabled),
        phone_verified=bool(row and row.phone_verified_at is not None),
        blocked_sender=False,
    )
    # The block is the last check: read only when nothing before it refuses.
    if (
        reason is ReasonCode.OK
        and row is not None
        and sender_phone is not None
        and await repo.is_blocked(row.id, sender_phone)
    ):
        return reason_code(exists=True, disabled=False, phone_verified=True, blocked_sender=True)
    return reason


async def lookup(session: AsyncSession, phone: str, sender_phone: str | None = None) -> Lookup:
    """Whether ``phone`` can receive (from ``sender_phone``, when given) and why not."""
    e164 = phone_or_422(phone)
    sender = phone_or_422(sender_phone, "sender_phone") if sender_phone else None
    repo = ConnectRepository(session)
    row = await repo.account_by_phone(e164)
    reason = await _reason(repo, row, sender)
    return Lookup(
        exists=row is not None,
        can_receive=reason is ReasonCode.OK,
        reason_code=reason,
        recipient_id=row.id if row else None,
        is_verified=bool(row and row.account_verified),
        phone_verified_at=row.phone_verified_at if row else None,
    )


@dataclass
class Acceptance:
    message: ConnectInboxMessageRow
    duplicate: bool


async def count_attempt(session: AsyncSession, business_message_id: str) -> None:
    """Count a raw acceptance request (kept even when the message is refused)."""
    await ConnectRepository(session).count_attempt(business_message_id.strip()[:200], now())


async def accept_message(session: AsyncSession, msg: OutboundMessage) -> Acceptance:
    """Place a Business message in the recipient's inbox, once per ``business_message_id``.

    A retry of an accepted id returns the first acceptance (``duplicate``), whatever changed since.
    Raises RecipientCannotReceive when the recipient cannot receive it."""
    to, sender = check_outbound(msg)
    bid = msg.business_message_id.strip()
    repo = ConnectRepository(session)
    existing = await repo.message_by_business_id(bid)
    if existing is not None:
        return Acceptance(existing, duplicate=True)
    account = await repo.account_by_phone(to)
    # Platform messages (the OTP) are not from the business number, so a block does not apply.
    reason = await _reason(repo, account, None if msg.type == "system" else sender)
    if reason is not ReasonCode.OK or account is None:
        raise RecipientCannotReceive(reason)
    at = now()
    row = ConnectInboxMessageRow(
        business_message_id=bid,
        account_id=account.id,
        sender_phone=sender,
        sender_name=msg.sender_name[:200],
        type=msg.type,
        content=msg.content,
        caption=msg.caption,
        media=msgspec.to_builtins(msg.media) if msg.media else None,
        received_at=at,
        read_at=None,
    )
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        # A concurrent retry of the same id won the race: answer with its acceptance.
        raced = await repo.message_by_business_id(bid)
        if raced is None:
            raise
        return Acceptance(raced, duplicate=True)
    await _record_event(
        session,
        EVENT_MESSAGE_DELIVERED,
        {"business_message_id": bid, "connect_message_id": row.id, "at": utc_iso(at)},
    )
    return Acceptance(row, duplicate=False)


async def attempts(session: AsyncSession, business_message_id: str) -> int:
    return await ConnectRepository(session).attempts(business_message_id)


@dataclass(frozen=True)
class InboxPage:
    rows: Sequence[ConnectInboxMessageRow]
    next_cursor: str | None  # the older messages' page; None on the last page


async def inbox(session: AsyncSession, phone: str, limit: int = 50, cursor: str | None = None) -> InboxPage:
    """One page of the account's messages, newest first; ``cursor`` is a previous page's ``next_cursor``."""
    row = await _account(session, phone)
    limit = check_limit(limit)
    before_id = cursor_id(decode_cursor(cursor, "id"))
    rows = await ConnectRepository(session).inbox(row.id, limit + 1, before_id)
    more = len(rows) > limit
    rows = rows[:limit]
    return InboxPage(rows, encode_cursor(id=rows[-1].id) if more else None)


async def mark_read(session: AsyncSession, phone: str, message_id: int) -> ConnectInboxMessageRow:
    """The recipient read the message; the first time notifies the Business side."""
    account = await _account(session, phone)
    row = await ConnectRepository(session).inbox_message(account.id, message_id)
    if row is None:
        raise InboxMessageNotFound()
    if row.read_at is None:
        row.read_at = now()
        await _record_event(
            session,
            EVENT_MESSAGE_READ,
            {
                "business_message_id": row.business_message_id,
                "connect_message_id": row.id,
                "at": utc_iso(row.read_at),
            },
        )
    return row
