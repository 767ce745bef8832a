"""SMS sender identities and SMS messages: the rules of seed 004 and SPEC section 7. Never commits."""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

import msgspec
import phonenumbers
import pycountry
from sqlalchemy.ext.asyncio import AsyncSession

from tgo import events
from tgo.channels.sms_encoding import analyze
from tgo.errors import Conflict, NotFound, Unprocessable, ValidationFailed
from tgo.kit.clock import ensure_utc, now
from tgo.kit.pagination import check_limit, decode_cursor, encode_cursor
from tgo.models.sms import SmsMessage, SmsSender
from tgo.optouts import service as optouts
from tgo.sms.repository import SmsMessageRepository, SmsOperatorRepository, SmsSenderRepository
from tgo.sms.rules import MessageType, SenderType, reach_error
from tgo.sms.schemas import (
    SmsMessageCreate,
    SmsMessageOut,
    SmsSenderCreate,
    SmsSenderOut,
    SmsSenderUpdate,
    as_event,
)

MAX_BODY_CHARACTERS = 1600
MAX_NAME = 100


class SenderStatus(StrEnum):
    NOT_STARTED = "not_started"
    PENDING = "pending"
    ACTIVE = "active"
    FAILED = "failed"
    REJECTED = "rejected"
    SUSPENDED = "suspended"


class MessageStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"


SENDER_TRANSITIONS: dict[str, frozenset[str]] = {
    SenderStatus.NOT_STARTED: frozenset({SenderStatus.PENDING, SenderStatus.SUSPENDED}),
    SenderStatus.PENDING: frozenset(
        {SenderStatus.ACTIVE, SenderStatus.FAILED, SenderStatus.REJECTED, SenderStatus.SUSPENDED}
    ),
    SenderStatus.ACTIVE: frozenset({SenderStatus.SUSPENDED}),
    SenderStatus.FAILED: frozenset({SenderStatus.PENDING, SenderStatus.SUSPENDED}),
    SenderStatus.REJECTED: frozenset({SenderStatus.PENDING, SenderStatus.SUSPENDED}),
    SenderStatus.SUSPENDED: frozenset({SenderStatus.ACTIVE, SenderStatus.NOT_STARTED}),
}
VERIFIABLE = frozenset({SenderStatus.NOT_STARTED, SenderStatus.FAILED, SenderStatus.REJECTED})

MESSAGE_TRANSITIONS: dict[str, frozenset[str]] = {
    MessageStatus.QUEUED: frozenset({MessageStatus.SENT, MessageStatus.FAILED}),
    MessageStatus.SENT: frozenset({MessageStatus.DELIVERED, MessageStatus.UNDELIVERED, MessageStatus.FAILED}),
    MessageStatus.DELIVERED: frozenset(),
    MessageStatus.UNDELIVERED: frozenset(),
    MessageStatus.FAILED: frozenset(),
}


# -- errors ---------------------------------------------------------------------------------------


class SmsSenderNotFound(NotFound):
    message_key = "sms.sender_not_found"


class SmsMessageNotFound(NotFound):
    message_key = "sms.message_not_found"


class SmsSenderExists(Conflict):
    code = "sms_sender_exists"
    message_key = "sms.sender_exists"


class SmsSenderInUse(Conflict):
    code = "sms_sender_in_use"
    message_key = "sms.sender_in_use"


class SmsSenderNotVerifiable(Conflict):
    code = "sms_sender_not_verifiable"
    message_key = "sms.sender_not_verifiable"


class SmsSenderStatusConflict(Conflict):
    code = "sms_sender_status_conflict"
    message_key = "sms.sender_status_conflict"


class SmsSenderNotActive(Unprocessable):
    code = "sms_sender_not_active"
    message_key = "sms.sender_not_active"


class SmsSenderTransactionalOnly(Unprocessable):
    code = "sms_sender_transactional_only"
    message_key = "sms.sender_transactional_only"


class SmsRecipientNotAllowed(Unprocessable):
    code = "sms_recipient_not_allowed"
    message_key = "sms.recipient_not_allowed"


class InvalidTransition(Conflict):
    code = "invalid_status_transition"
    message_key = "sms.invalid_transition"


# -- state machines -------------------------------------------------------------------------------


async def transition_sender(
    session: AsyncSession,
    sender: SmsSender,
    to: SenderStatus,
    *,
    reason: str | None = None,
    transactional_only: bool | None = None,
    due_at: datetime | None = None,
) -> None:
    """The one way a sender's status changes: checks the move, stamps it, emits the event."""
    if to not in SENDER_TRANSITIONS[sender.status]:
        raise InvalidTransition(params={"current": sender.status, "target": to.value})
    at = now()
    sender.status = to.value
    sender.updated_at = at
    sender.verification_due_at = due_at if to is SenderStatus.PENDING else None
    if to is SenderStatus.PENDING:
        sender.rejection_reason = None
    elif to in (SenderStatus.FAILED, SenderStatus.REJECTED):
        sender.rejection_reason = reason
    elif to is SenderStatus.ACTIVE:
        sender.rejection_reason = None
        sender.verified_at = sender.verified_at or at
        if transactional_only is not None:
            sender.transactional_only = transactional_only
    await session.flush()
    await events.emit(
        session, sender.tenant_id, events.EventType.SMS_SENDER_STATUS_CHANGED, sender_event(sender)
    )


async def transition_message(
    session: AsyncSession,
    message: SmsMessage,
    to: MessageStatus,
    *,
    error_code: str | None = None,
    error_message: str | None = None,
) -> None:
    """The one way an SMS message's status changes: checks the move, stamps it, emits the event."""
    if to not in MESSAGE_TRANSITIONS[message.status]:
        raise InvalidTransition(params={"current": message.status, "target": to.value})
    at = now()
    message.status = to.value
    message.updated_at = at
    message.claimed_until = None
    message.next_attempt_at = None
    if to is MessageStatus.SENT:
        message.sent_at = at
        message.error_code = message.error_message = None
    else:
        message.done_at = at
        if error_code is not None:
            message.error_code, message.error_message = error_code, error_message
    await session.flush()
    await events.emit(
        session, message.tenant_id, events.EventType.SMS_MESSAGE_STATUS_CHANGED, message_event(message)
    )


def sender_event(sender: SmsSender) -> dict[str, Any]:
    return as_event(SmsSenderOut.of(sender))


def message_event(message: SmsMessage) -> dict[str, Any]:
    return as_event(SmsMessageOut.of(message))


# -- validation -----------------------------------------------------------------------------------

_ALNUM = re.compile(r"^[A-Za-z0-9 ]{1,11}$")
_E164 = re.compile(r"^\+[1-9]\d{1,14}$")
_SHORT = re.compile(r"^\d{4,6}$")


def _add(errors: dict[str, list[str]], field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def _validate_name(value: Any, errors: dict[str, list[str]]) -> str | None:
    if value is None:
        _add(errors, "name", "The name is required.")
        return None
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        _add(errors, "name", "The name must be a non-empty string.")
        return None
    if len(value.strip()) > MAX_NAME:
        _add(errors, "name", f"The name may not be longer than {MAX_NAME} characters.")
        return None
    return value.strip()


def _validate_message_type(value: Any, field: str, errors: dict[str, list[str]]) -> str | None:
    if value is None:
        return None
    if value not in (MessageType.TRANSACTIONAL.value, MessageType.PROMOTIONAL.value):
        _add(errors, field, 'Must be "transactional" or "promotional".')
        return None
    return str(value)


def _validate_country(value: Any, errors: dict[str, list[str]]) -> str | None:
    if value is None:
        _add(errors, "country", "The country is required.")
        return None
    if (
        not isinstance(value, str)
        or len(value) != 2
        or pycountry.countries.get(alpha_2=value.upper()) is None
        or not value.isalpha()
    ):
        _add(errors, "country", 'Must be an ISO 3166-1 alpha-2 country code, e.g. "AU" or "US".')
        return None
    return value.upper()


def _parse_phone(value: str) -> phonenumbers.PhoneNumber | None:
    if not _E164.match(value):
        return None
    try:
        return phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return None


def _validate_sender_id(
    value: Any, sender_type: str | None, country: str | None, errors: dict[str, list[str]]
) -> str | None:
    field = "senderId"
    if value is None:
        _add(errors, field, "The sender ID is required.")
        return None
    if not isinstance(value, str):
        _add(errors, field, "The sender ID must be a string.")
        return None
    if sender_type is None:
        return None  # its format depends on the type, which is already reported
    if sender_type == SenderType.ALPHANUMERIC_ID:
        if not _ALNUM.match(value) or not any(ch.isalpha() for ch in value):
            _add(
                errors,
                field,
                "An alphanumeric sender ID has 1 to 11 characters (letters, digits and spaces) "
                "and at least one letter.",
            )
            return None
        return value
    if sender_type == SenderType.SHORT_CODE:
        if not _SHORT.match(value):
            _add(errors, field, "A short code has 4 to 6 digits.")
            return None
        return value
    number = _parse_phone(value)
    if number is None or not phonenumbers.is_valid_number(number):
        _add(errors, field, "Must be a valid phone number in E.164 format, e.g. +61412345678.")
        return None
    if country is None:
        return value
    if not phonenumbers.is_valid_number_for_region(number, country):
        _add(errors, field, f"The number is not a valid number for the country {country}.")
        return None
    kind = phonenumbers.number_type(number)
    if sender_type == SenderType.TOLL_FREE and kind != phonenumbers.PhoneNumberType.TOLL_FREE:
        _add(errors, field, f"The number is not a toll-free number of {country}.")
        return None
    if sender_type == SenderType.LONG_CODE and kind in (
        phonenumbers.PhoneNumberType.TOLL_FREE,
        phonenumbers.PhoneNumberType.PREMIUM_RATE,
        phonenumbers.PhoneNumberType.SHARED_COST,
    ):
        _add(
            errors,
            field,
            "This is not a standard phone number; use the toll_free type for toll-free numbers.",
        )
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _parse_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return None


# -- pagination -----------------------------------------------------------------------------------


def _cursor(raw: str | None) -> tuple[datetime, uuid.UUID] | None:
    data = decode_cursor(raw, "c", "i")
    if data is None:
        return None
    try:
        return ensure_utc(datetime.fromisoformat(str(data["c"]))), uuid.UUID(str(data["i"]))
    except ValueError as exc:
        raise ValidationFailed({"cursor": ["This cursor is not valid."]}) from exc


def _next_cursor(rows: list[Any], limit: int) -> str | None:
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    return encode_cursor(c=last.created_at.isoformat(), i=str(last.id))


# -- senders --------------------------------------------------------------------------------------


async def create_sender(session: AsyncSession, tenant_id: int, data: SmsSenderCreate) -> SmsSender:
    """Register a sender identity in ``not_started``; 422 per field, 409 when it already exists."""
    errors: dict[str, list[str]] = {}
    name = _validate_name(data.name, errors)
    sender_type: str | None = None
    if data.sender_type is None:
        _add(errors, "senderType", "The sender type is required.")
    elif data.sender_type not in [t.value for t in SenderType]:
        _add(errors, "senderType", "Must be one of: alphanumeric_id, long_code, toll_free, short_code.")
    else:
        sender_type = str(data.sender_type)
    country = _validate_country(data.country, errors)
    sender_id = _validate_sender_id(data.sender_id, sender_type, country, errors)
    default_type = _validate_message_type(data.default_message_type, "defaultMessageType", errors)
    if errors:
        raise ValidationFailed(errors)
    assert name is not None and sender_type is not None and country is not None and sender_id is not None
    repo = SmsSenderRepository(session, tenant_id)
    if await repo.find_identity(sender_type, sender_id, country) is not None:
        raise SmsSenderExists()
    at = now()
    return await repo.add(
        SmsSender(
            id=uuid.uuid4(),
            name=name,
            sender_id=sender_id,
            sender_type=sender_type,
            country=country,
            status=SenderStatus.NOT_STARTED.value,
            default_message_type=default_type or MessageType.TRANSACTIONAL.value,
            transactional_only=False,
            rejection_reason=None,
            created_at=at,
            updated_at=at,
        )
    )


async def get_sender(session: AsyncSession, tenant_id: int, sender_id: str) -> SmsSender:
    parsed = _parse_uuid(sender_id)
    sender = await SmsSenderRepository(session, tenant_id).get(parsed) if parsed else None
    if sender is None:
        raise SmsSenderNotFound()
    return sender


async def list_senders(
    session: AsyncSession, tenant_id: int, *, limit: int | None, cursor: str | None
) -> tuple[list[SmsSender], str | None]:
    size = check_limit(limit)
    rows = list(await SmsSenderRepository(session, tenant_id).page(size, _cursor(cursor)))
    return rows[:size], _next_cursor(rows, size)


async def update_sender(
    session: AsyncSession, tenant_id: int, sender_id: str, data: SmsSenderUpdate
) -> SmsSender:
    """Change ``name`` and ``defaultMessageType`` only; the identity fields are refused by name."""
    sender = await get_sender(session, tenant_id, sender_id)
    errors: dict[str, list[str]] = {}
    for field, value in (
        ("senderId", data.sender_id),
        ("senderType", data.sender_type),
        ("country", data.country),
    ):
        if value is not msgspec.UNSET:
            _add(errors, field, "This field cannot be changed after creation.")
    name = None
    if data.name is not msgspec.UNSET:
        name = _validate_name(data.name, errors)
    default_type = None
    if data.default_message_type is not msgspec.UNSET:
        if data.default_message_type is None:
            _add(errors, "defaultMessageType", 'Must be "transactional" or "promotional".')
        else:
            default_type = _validate_message_type(data.default_message_type, "defaultMessageType", errors)
    if default_type == MessageType.PROMOTIONAL and sender.transactional_only:
        _add(errors, "defaultMessageType", "This sender may send transactional messages only.")
    if errors:
        raise ValidationFailed(errors)
    changed = False
    if name is not None and name != sender.name:
        sender.name, changed = name, True
    if default_type is not None and default_type != sender.default_message_type:
        sender.default_message_type, changed = default_type, True
    if changed:
        sender.updated_at = now()
        await session.flush()
    return sender


async def delete_sender(session: AsyncSession, tenant_id: int, sender_id: str) -> None:
    """Delete, unless the sender has been used to send a message (409)."""
    sender = await get_sender(session, tenant_id, sender_id)
    repo = SmsSenderRepository(session, tenant_id)
    if await repo.has_messages(sender.id):
        raise SmsSenderInUse()
    await repo.delete(sender.id)


async def start_verification(
    session: AsyncSession,
    tenant_id: int,
    sender_id: str,
    *,
    delay_seconds: float,
) -> SmsSender:
    """``not_started``/``failed``/``rejected`` -> ``pending``; the carrier answers asynchronously."""
    sender = await get_sender(session, tenant_id, sender_id)
    if sender.status not in VERIFIABLE:
        raise SmsSenderNotVerifiable(params={"status": sender.status})
    await transition_sender(
        session, sender, SenderStatus.PENDING, due_at=now() + timedelta(seconds=delay_seconds)
    )
    return sender


async def suspend_sender(session: AsyncSession, sender_id: str) -> SmsSender:
    """Operator: suspend any sender (CLI ``tgo sms-sender suspend``)."""
    sender = await _operator_sender(session, sender_id)
    if sender.status == SenderStatus.SUSPENDED:
        raise SmsSenderStatusConflict(params={"status": sender.status})
    await transition_sender(session, sender, SenderStatus.SUSPENDED)
    return sender


async def unsuspend_sender(session: AsyncSession, sender_id: str) -> SmsSender:
    """Operator: lift a suspension; a sender verified before goes back to ``active``."""
    sender = await _operator_sender(session, sender_id)
    if sender.status != SenderStatus.SUSPENDED:
        raise SmsSenderStatusConflict(params={"status": sender.status})
    target = SenderStatus.ACTIVE if sender.verified_at is not None else SenderStatus.NOT_STARTED
    await transition_sender(session, sender, target)
    return sender


async def _operator_sender(session: AsyncSession, sender_id: str) -> SmsSender:
    parsed = _parse_uuid(sender_id)
    sender = await SmsOperatorRepository(session).sender(parsed, lock=True) if parsed else None
    if sender is None:
        raise SmsSenderNotFound()
    return sender


# -- messages -------------------------------------------------------------------------------------


async def create_message(session: AsyncSession, tenant_id: int, data: SmsMessageCreate) -> SmsMessage:
    """Accept an SMS from an active sender: ``queued`` with its encoding and segment count."""
    errors: dict[str, list[str]] = {}
    sender: SmsSender | None = None
    if data.sender_id is None:
        _add(errors, "senderId", "The sender is required.")
    elif not isinstance(data.sender_id, str) or _parse_uuid(data.sender_id) is None:
        _add(errors, "senderId", "Must be the id (UUID) of one of your SMS senders.")
    else:
        sender = await SmsSenderRepository(session, tenant_id).get(uuid.UUID(data.sender_id))
        if sender is None:
            _add(errors, "senderId", "No SMS sender with this id exists.")
    to: str | None = None
    to_country: str | None = None
    if data.to is None:
        _add(errors, "to", "The recipient is required.")
    else:
        number = _parse_phone(data.to) if isinstance(data.to, str) else None
        if number is None or not phonenumbers.is_valid_number(number):
            _add(errors, "to", "Must be a valid phone number in E.164 format, e.g. +61412345678.")
        else:
            to = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            to_country = phonenumbers.region_code_for_number(number)
    body: str | None = None
    if data.body is None or (isinstance(data.body, str) and data.body == ""):
        _add(errors, "body", "The message body is required.")
    elif not isinstance(data.body, str) or "\x00" in data.body:
        _add(errors, "body", "The message body must be a string without NUL characters.")
    elif len(data.body) > MAX_BODY_CHARACTERS:
        _add(errors, "body", f"The message body may not be longer than {MAX_BODY_CHARACTERS} characters.")
    else:
        body = data.body
    message_type = _validate_message_type(data.message_type, "messageType", errors)
    if errors:
        raise ValidationFailed(errors)
    assert sender is not None and to is not None and to_country is not None and body is not None
    if sender.status != SenderStatus.ACTIVE:
        raise SmsSenderNotActive(params={"status": sender.status})
    await optouts.refuse_if_opted_out(session, tenant_id, to, channel="sms")  # 422 sms_recipient_opted_out
    message_type = message_type or sender.default_message_type
    if sender.transactional_only and message_type == MessageType.PROMOTIONAL:
        raise SmsSenderTransactionalOnly()
    reason = reach_error(sender.sender_type, sender.country, to_country, message_type)
    if reason is not None:
        raise SmsRecipientNotAllowed(params={"reason": reason}, extra={"reason": reason})
    info = analyze(body)
    at = now()
    return await SmsMessageRepository(session, tenant_id).add(
        SmsMessage(
            id=uuid.uuid4(),
            sender_id=sender.id,
            to=to,
            body=body,
            message_type=message_type,
            encoding=info.encoding.value,
            segments=info.segments,
            characters=info.characters,
            status=MessageStatus.QUEUED.value,
            concat_ref=secrets.randbelow(256),
            attempts=0,
            # If the job published after commit is lost, the sweeper picks the message up from then.
            next_attempt_at=at,
            created_at=at,
            updated_at=at,
        )
    )


async def get_message(session: AsyncSession, tenant_id: int, message_id: str) -> SmsMessage:
    parsed = _parse_uuid(message_id)
    message = await SmsMessageRepository(session, tenant_id).get(parsed) if parsed else None
    if message is None:
        raise SmsMessageNotFound()
    return message


async def list_messages(
    session: AsyncSession,
    tenant_id: int,
    *,
    limit: int | None,
    cursor: str | None,
    status: str | None = None,
    sender_id: str | None = None,
) -> tuple[list[SmsMessage], str | None]:
    size = check_limit(limit)
    if status is not None and status not in [s.value for s in MessageStatus]:
        raise ValidationFailed({"status": [f"Must be one of: {', '.join(s.value for s in MessageStatus)}."]})
    sender_uuid = None
    if sender_id is not None:
        sender_uuid = _parse_uuid(sender_id)
        if sender_uuid is None:
            raise ValidationFailed({"senderId": ["Must be a sender id (UUID)."]})
    rows = list(
        await SmsMessageRepository(session, tenant_id).page(
            size, _cursor(cursor), status=status, sender_id=sender_uuid
        )
    )
    return rows[:size], _next_cursor(rows, size)


async def usage(session: AsyncSession, tenant_id: int, *, since: date, until: date) -> list[dict[str, Any]]:
    """SMS per sender over the days [since, until] (UTC, inclusive): messages and segments by current
    status, with the sender's name and ID; senders with no SMS in the period are left out."""
    start = datetime.combine(since, time.min, tzinfo=UTC)
    end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=UTC)
    rows = await SmsMessageRepository(session, tenant_id).usage(start, end)
    senders = {s.id: s for s in await SmsSenderRepository(session, tenant_id).by_ids({r[0] for r in rows})}
    report: dict[uuid.UUID, dict[str, Any]] = {}
    for sender_id, status, count, segments in rows:
        sender = senders.get(sender_id)
        entry = report.setdefault(
            sender_id,
            {
                "sender_id": str(sender_id),
                "name": sender.name if sender else None,
                "from": sender.sender_id if sender else None,
                "messages": 0,
                "segments": 0,
                "by_status": dict.fromkeys((s.value for s in MessageStatus), 0),
            },
        )
        entry["messages"] += count
        entry["segments"] += segments
        entry["by_status"][status] = entry["by_status"].get(status, 0) + count
    return sorted(report.values(), key=lambda e: (-e["messages"], e["sender_id"]))
