"""SMS sender identities and SMS messages: the rules of seed 004 and SPEC section 7, in the caller's session
(never commits). Statuses and their moves are in ``sms.state``, errors in ``sms.errors``, field checks in
``sms.validation``; the jobs (verification, delivery, receipts, sweep) in ``sms.jobs``."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import msgspec
import phonenumbers
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.channels.sms_encoding import analyze
from tgo.errors import ValidationFailed
from tgo.kit.clock import ensure_utc, now
from tgo.kit.pagination import check_limit, decode_cursor, encode_cursor
from tgo.models.sms import SmsMessage, SmsSender
from tgo.optouts import service as optouts
from tgo.runtime import Runtime
from tgo.sms.errors import (
    SmsMessageNotFound,
    SmsRecipientNotAllowed,
    SmsSenderExists,
    SmsSenderInUse,
    SmsSenderNotActive,
    SmsSenderNotFound,
    SmsSenderNotVerifiable,
    SmsSenderStatusConflict,
    SmsSenderTransactionalOnly,
)
from tgo.sms.repository import SmsMessageRepository, SmsOperatorRepository, SmsSenderRepository
from tgo.sms.rules import MessageType, SenderType, reach_error
from tgo.sms.schemas import (
    SmsMessageCreate,
    SmsSenderCreate,
    SmsSenderUpdate,
)
from tgo.sms.sender_cache import SmsSenderCache, publish_sms_sender_change
from tgo.sms.state import VERIFIABLE, MessageStatus, SenderStatus, transition_sender
from tgo.sms.validation import (
    add_error,
    parse_phone,
    parse_uuid,
    validate_country,
    validate_message_type,
    validate_name,
    validate_sender_id,
)

MAX_BODY_CHARACTERS = 1600


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
    name = validate_name(data.name, errors)
    sender_type: str | None = None
    if data.sender_type is None:
        add_error(errors, "senderType", "The sender type is required.")
    elif data.sender_type not in [t.value for t in SenderType]:
        add_error(errors, "senderType", "Must be one of: alphanumeric_id, long_code, toll_free, short_code.")
    else:
        sender_type = str(data.sender_type)
    country = validate_country(data.country, errors)
    sender_id = validate_sender_id(data.sender_id, sender_type, country, errors)
    default_type = validate_message_type(data.default_message_type, "defaultMessageType", errors)
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
    parsed = parse_uuid(sender_id)
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
            add_error(errors, field, "This field cannot be changed after creation.")
    name = None
    if data.name is not msgspec.UNSET:
        name = validate_name(data.name, errors)
    default_type = None
    if data.default_message_type is not msgspec.UNSET:
        if data.default_message_type is None:
            add_error(errors, "defaultMessageType", 'Must be "transactional" or "promotional".')
        else:
            default_type = validate_message_type(data.default_message_type, "defaultMessageType", errors)
    if default_type == MessageType.PROMOTIONAL and sender.transactional_only:
        add_error(errors, "defaultMessageType", "This sender may send transactional messages only.")
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
        await publish_sms_sender_change(session, tenant_id)
    return sender


async def delete_sender(session: AsyncSession, tenant_id: int, sender_id: str) -> None:
    """Delete, unless the sender has been used to send a message (409)."""
    sender = await get_sender(session, tenant_id, sender_id)
    repo = SmsSenderRepository(session, tenant_id)
    if await repo.has_messages(sender.id):
        raise SmsSenderInUse()
    await repo.delete(sender.id)
    await publish_sms_sender_change(session, tenant_id)


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
    parsed = parse_uuid(sender_id)
    sender = await SmsOperatorRepository(session).sender(parsed, lock=True) if parsed else None
    if sender is None:
        raise SmsSenderNotFound()
    return sender


# -- messages -------------------------------------------------------------------------------------


async def create_message(session: AsyncSession, tenant_id: int, data: SmsMessageCreate) -> SmsMessage:
    """Accept an SMS from an active sender, written in the caller's transaction (the dashboard's send):
    ``queued`` with its encoding and segment count."""
    return await SmsMessageRepository(session, tenant_id).add(await check_message(session, tenant_id, data))


async def accept_message(runtime: Runtime, tenant_id: int, data: SmsMessageCreate) -> SmsMessage:
    """The API's send: the same checks, read on a pooled connection without a transaction (released before
    the wait), then the message written with the SMS that arrive with it (``sms.accept_batch``, group
    commit); returned once its batch committed (its delivery job is published after that commit)."""
    async with runtime.db.read_session() as session:
        message = await check_message(session, tenant_id, data, senders=runtime.sms_sender_cache.get())
    message.tenant_id = tenant_id
    accepted: SmsMessage = await runtime.sms_batcher.get().submit(message)
    return accepted


async def check_message(
    session: AsyncSession,
    tenant_id: int,
    data: SmsMessageCreate,
    *,
    senders: SmsSenderCache | None = None,
) -> SmsMessage:
    """Every check of a send (422 per field, the sender's state, the suppression list, the reach rules);
    the queued message it would write, not yet added. ``senders``: the sender read from the runtime's cache
    (the API's send) instead of the session."""
    errors: dict[str, list[str]] = {}
    sender: SmsSender | None = None
    if data.sender_id is None:
        add_error(errors, "senderId", "The sender is required.")
    elif not isinstance(data.sender_id, str) or parse_uuid(data.sender_id) is None:
        add_error(errors, "senderId", "Must be the id (UUID) of one of your SMS senders.")
    else:
        sender_uuid = uuid.UUID(data.sender_id)
        sender = (
            await senders.get(session, tenant_id, sender_uuid)
            if senders is not None
            else await SmsSenderRepository(session, tenant_id).get(sender_uuid)
        )
        if sender is None:
            add_error(errors, "senderId", "No SMS sender with this id exists.")
    to: str | None = None
    to_country: str | None = None
    if data.to is None:
        add_error(errors, "to", "The recipient is required.")
    else:
        number = parse_phone(data.to) if isinstance(data.to, str) else None
        if number is None or not phonenumbers.is_valid_number(number):
            add_error(errors, "to", "Must be a valid phone number in E.164 format, e.g. +61412345678.")
        else:
            to = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            to_country = phonenumbers.region_code_for_number(number)
    body: str | None = None
    if data.body is None or (isinstance(data.body, str) and data.body == ""):
        add_error(errors, "body", "The message body is required.")
    elif not isinstance(data.body, str) or "\x00" in data.body:
        add_error(errors, "body", "The message body must be a string without NUL characters.")
    elif len(data.body) > MAX_BODY_CHARACTERS:
        add_error(
            errors, "body", f"The message body may not be longer than {MAX_BODY_CHARACTERS} characters."
        )
    else:
        body = data.body
    message_type = validate_message_type(data.message_type, "messageType", errors)
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
    return _queued(sender, to, body, message_type)


async def queue_reply(session: AsyncSession, sender: SmsSender, to: str, body: str) -> SmsMessage:
    """The platform's own reply to a handset that wrote to ``sender`` (an opt-out keyword's confirmation,
    issue 18): queued like a tenant's SMS, transactional, from the number written to — and not refused
    for a phone on the suppression list (a STOP's confirmation goes to the phone that just opted out).
    The caller publishes its delivery after commit (the sweeper would otherwise)."""
    message = _queued(sender, to, body[:MAX_BODY_CHARACTERS], MessageType.TRANSACTIONAL.value)
    return await SmsMessageRepository(session, sender.tenant_id).add(message)


def _queued(sender: SmsSender, to: str, body: str, message_type: str) -> SmsMessage:
    info = analyze(body)
    at = now()
    return SmsMessage(
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


async def get_message(session: AsyncSession, tenant_id: int, message_id: str) -> SmsMessage:
    parsed = parse_uuid(message_id)
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
        sender_uuid = parse_uuid(sender_id)
        if sender_uuid is None:
            raise ValidationFailed({"senderId": ["Must be a sender id (UUID)."]})
    rows = list(
        await SmsMessageRepository(session, tenant_id).page(
            size, _cursor(cursor), status=status, sender_id=sender_uuid
        )
    )
    return rows[:size], _next_cursor(rows, size)


def _period(since: date, until: date) -> tuple[datetime, datetime]:
    """The UTC days [since, until] as the instants [start, end)."""
    return (
        datetime.combine(since, time.min, tzinfo=UTC),
        datetime.combine(until + timedelta(days=1), time.min, tzinfo=UTC),
    )


def _usage_entry(sender_id: uuid.UUID, sender: SmsSender | None, **extra: Any) -> dict[str, Any]:
    return {
        **extra,
        "sender_id": str(sender_id),
        "name": sender.name if sender else None,
        "from": sender.sender_id if sender else None,
        "messages": 0,
        "segments": 0,
        "by_status": dict.fromkeys((s.value for s in MessageStatus), 0),
    }


def _count(entry: dict[str, Any], status: str, count: int, segments: int) -> None:
    entry["messages"] += count
    entry["segments"] += segments
    entry["by_status"][status] = entry["by_status"].get(status, 0) + count


async def usage(session: AsyncSession, tenant_id: int, *, since: date, until: date) -> list[dict[str, Any]]:
    """SMS per sender over the days [since, until] (UTC, inclusive): messages and segments by current
    status, with the sender's name and ID; senders with no SMS in the period are left out."""
    rows = await SmsMessageRepository(session, tenant_id).usage(*_period(since, until))
    senders = {s.id: s for s in await SmsSenderRepository(session, tenant_id).by_ids({r[0] for r in rows})}
    report: dict[uuid.UUID, dict[str, Any]] = {}
    for sender_id, status, count, segments in rows:
        entry = report.setdefault(sender_id, _usage_entry(sender_id, senders.get(sender_id)))
        _count(entry, status, count, segments)
    return sorted(report.values(), key=lambda e: (-e["messages"], e["sender_id"]))


async def usage_by_day(
    session: AsyncSession, tenant_id: int, *, since: date, until: date
) -> list[dict[str, Any]]:
    """The same per UTC day and sender (``day`` added), oldest day first; days without SMS are left out."""
    rows = await SmsMessageRepository(session, tenant_id).usage_by_day(*_period(since, until))
    senders = {s.id: s for s in await SmsSenderRepository(session, tenant_id).by_ids({r[1] for r in rows})}
    report: dict[tuple[date, uuid.UUID], dict[str, Any]] = {}
    for day, sender_id, status, count, segments in rows:
        entry = report.setdefault(
            (day, sender_id), _usage_entry(sender_id, senders.get(sender_id), day=day.isoformat())
        )
        _count(entry, status, count, segments)
    return [report[key] for key in sorted(report, key=lambda k: (k[0], str(k[1])))]
