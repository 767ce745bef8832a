"""Sending messages (checks in SPEC section 5's order) and reading the log; delivery is in messages.delivery."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from litestar.datastructures import UploadFile
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from tgo import events
from tgo.auth.context import AuthContext
from tgo.channels.connect_types import ConnectUnavailable
from tgo.db import Database, after_commit
from tgo.errors import NotFound, Unprocessable, ValidationFailed
from tgo.kit.clock import now
from tgo.kit.pagination import MAX_LIMIT, check_limit, cursor_id, decode_cursor, encode_cursor
from tgo.kit.phones import e164, normalize_phone
from tgo.media import service as media_service
from tgo.media.sniff import Sniffed
from tgo.messages.accept_batch import Accepted, Finish, QueuedSend
from tgo.messages.repository import MessageRepository
from tgo.messages.state import MessageStatus, insert_queued
from tgo.metrics import MESSAGES_ACCEPTED
from tgo.models import Media, Message, MessageStatusEvent, SenderNumber
from tgo.observability import add_request_log_fields
from tgo.optouts import service as optouts
from tgo.reachability.lookup import recipient_lookup
from tgo.runtime import Runtime, runtime_of
from tgo.senders.repository import SenderNumberRepository
from tgo.senders.state import SendRefusal, send_refusal
from tgo.worker.registry import publish

log = structlog.get_logger("tgo.messages")

MESSAGE_TYPES = ("text", "image", "voice", "document")
MEDIA_TYPES = ("image", "voice", "document")


class SenderNotFound(Unprocessable):
    code = "sender_not_found"


class SenderNotActive(Unprocessable):
    code = "sender_not_active"


class SenderOwnerNotVerified(Unprocessable):
    code = "sender_owner_not_verified"

    def __init__(self) -> None:
        # The seed's text for this error is Arabic unless the client asks for English.
        super().__init__(default_language="ar")


_REFUSALS: dict[SendRefusal, type[Unprocessable]] = {
    SendRefusal.SENDER_NOT_ACTIVE: SenderNotActive,
    SendRefusal.OWNER_NOT_VERIFIED: SenderOwnerNotVerified,
}


class RecipientUnreachable(Unprocessable):
    code = "recipient_unreachable"


# Runs in the transaction that writes the message, once it has its id (see ``send``).
SendFinish = Callable[[AsyncSession, Message, Media | None], Awaitable[None]]

# What a field of a send can hold before it is checked: any JSON value, or a multipart text field.
RawField = str | int | float | bool | list[Any] | dict[str, Any] | None


@dataclass(frozen=True)
class SendRequest:
    """A send, as parsed from JSON or multipart (values still unchecked)."""

    to_phone: RawField
    type: RawField
    content: RawField = None
    caption: RawField = None
    duration: RawField = None
    sender_phone: RawField = None
    sender_number_id: RawField = None


@dataclass(frozen=True)
class CheckedSend:
    to_phone: str
    type: str
    content: str | None
    caption: str | None
    duration: int | None
    sender_phone: str | None
    sender_number_id: int | None


def _int(value: RawField) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("+").isdigit():
        return int(value.strip())
    return None


def validate(req: SendRequest, upload: UploadFile | None, *, multipart: bool) -> CheckedSend:
    """The body checks (422 with every field's problem at once)."""
    errors: dict[str, list[str]] = {}
    kind = req.type if isinstance(req.type, str) else None
    if kind not in MESSAGE_TYPES:
        errors["type"] = [f"Must be one of: {', '.join(MESSAGE_TYPES)}."]
    has_phone = req.sender_phone not in (None, "")
    has_id = req.sender_number_id not in (None, "")
    if has_phone == has_id:
        errors["sender_phone"] = ["Provide exactly one of sender_phone or sender_number_id."]
    sender_phone = None
    if has_phone and not has_id:
        sender_phone = e164(req.sender_phone) if isinstance(req.sender_phone, str) else None
        if sender_phone is None:
            errors["sender_phone"] = ["Must be a valid phone number in E.164 format."]
    sender_number_id = None
    if has_id and not has_phone:
        sender_number_id = _int(req.sender_number_id)
        if sender_number_id is None or sender_number_id < 1:
            errors["sender_number_id"] = ["Must be a positive integer."]
    to_phone = e164(req.to_phone) if isinstance(req.to_phone, str) else None
    if to_phone is None:
        errors["to_phone"] = ["Must be a valid phone number in E.164 format, e.g. +201010000000."]
    content = req.content if isinstance(req.content, str) else None
    caption = req.caption if isinstance(req.caption, str) and req.caption != "" else None
    duration = None
    if kind == "text":
        if multipart and upload is not None:
            errors["media"] = ["A text message has no media."]
        if not content or not content.strip():
            errors["content"] = ["Text messages need content (1 to 4096 characters)."]
        elif len(content) > 4096:
            errors["content"] = ["At most 4096 characters."]
        if caption is not None:
            errors["caption"] = ["Only image and document messages have a caption."]
    elif kind in MEDIA_TYPES:
        if not multipart:
            errors["media"] = [
                "Send image, voice and document messages as multipart/form-data with the file in `media`."
            ]
        elif upload is None:
            errors["media"] = ["Attach the file in the `media` field."]
        if content not in (None, ""):
            errors["content"] = ["Media messages carry no content; use caption for image and document."]
        content = None
        if caption is not None:
            if kind == "voice":
                errors["caption"] = ["Voice messages have no caption."]
            elif len(caption) > 1024:
                errors["caption"] = ["At most 1024 characters."]
        if kind == "voice":
            duration = _int(req.duration)
            if duration is None or not 1 <= duration <= 300:
                errors["duration"] = ["Voice messages need duration, an integer from 1 to 300 seconds."]
        elif req.duration not in (None, ""):
            errors["duration"] = ["Only voice messages have a duration."]
    if errors:
        raise ValidationFailed(errors)
    assert to_phone is not None and kind is not None
    return CheckedSend(to_phone, kind, content, caption, duration, sender_phone, sender_number_id)


async def _resolve_sender(session: AsyncSession, tenant_id: int, checked: CheckedSend) -> Row[Any]:
    """The sender number's (id, phone, status, verification_status), checked — from the runtime's sender cache
    (kept current by change notices); also notes for the event listeners whether any of them has an interest
    in the tenant (read with the number, saving a round trip)."""
    runtime = runtime_of(session)
    if runtime is not None:
        number = await runtime.sender_cache.get().send_check(
            session, tenant_id, number_id=checked.sender_number_id, phone=checked.sender_phone
        )
    else:
        number = await SenderNumberRepository(session, tenant_id).send_check(
            number_id=checked.sender_number_id,
            phone=checked.sender_phone,
            extra=events.interest(session, tenant_id).label("interested"),
        )
    if number is None:
        raise SenderNotFound()
    refusal = send_refusal(number.status, number.verification_status)
    if refusal is not None:
        raise _REFUSALS[refusal]()
    events.note_interest(session, tenant_id, bool(number.interested))
    return number


async def send(
    session: AsyncSession,
    runtime: Runtime,
    auth: AuthContext,
    req: SendRequest,
    upload: UploadFile | None,
    *,
    multipart: bool,
    finish: SendFinish | None = None,
) -> tuple[Message, Media | None]:
    """Check and accept a message: stored as ``queued``. A JSON send (text) is written with the sends that
    arrive with it (group commit) and returned once its batch committed; ``finish`` runs in the transaction
    that writes the message (an idempotency key's stored response)."""
    if upload is None and not multipart:
        return (await _send_batched(runtime, auth.tenant_id, req, finish)).message, None
    message, media = await send_for_tenant(session, runtime, auth.tenant_id, req, upload, multipart=multipart)
    if finish is not None:
        await finish(session, message, media)
    return message, media


@asynccontextmanager
async def _read_for_checks(db: Database) -> AsyncIterator[AsyncSession]:
    """``db.read_session()`` for checks that the caches nearly always answer: closed only if it ran a
    statement. A session that ran none holds no connection, and ``async with`` would close it in a task of its
    own (``AsyncSession.__aexit__`` shields ``close()``): ~0.1 ms of CPU per send for nothing."""
    session = db.read_session()
    try:
        yield session
    finally:
        if session.in_transaction():
            await session.close()


async def send_batched(
    runtime: Runtime, auth: AuthContext, req: SendRequest, finish: SendFinish | None = None
) -> Accepted:
    """Check and accept a JSON send (text, no session of the caller's): written with the sends that arrive
    with it (group commit), returned once its batch committed; ``finish`` runs in the batch's transaction."""
    return await _send_batched(runtime, auth.tenant_id, req, finish)


async def _send_batched(
    runtime: Runtime, tenant_id: int, req: SendRequest, finish: SendFinish | None
) -> Accepted:
    checked = validate(req, None, multipart=False)
    # The sender check reads (if it reads) on a pooled connection without a transaction, released before
    # the recipient lookup and the wait for the batch: a request holds no connection while it waits.
    async with _read_for_checks(runtime.db) as session:
        number = await _resolve_sender(session, tenant_id, checked)
        await optouts.refuse_if_opted_out(session, tenant_id, checked.to_phone)  # 422 recipient_opted_out
    # No connection is held here: a directory miss reads on a connection of its own, briefly.
    await _check_recipient(runtime, checked.to_phone, number.phone)
    on_commit = None
    if finish is not None:
        on_commit = _finish_without_media(finish)
    queued = QueuedSend(
        tenant_id,
        _queued_values(checked, number, None),
        bool(number.interested),
        on_commit,
        request_id=structlog.contextvars.get_contextvars().get("request_id"),
    )
    accepted: Accepted = await runtime.send_batcher.get().submit(queued)
    add_request_log_fields(message_id=accepted.view.id)  # the accept's log line names the message
    return accepted


def _finish_without_media(finish: SendFinish) -> Finish:
    async def run(session: AsyncSession, message: Message) -> None:
        await finish(session, message, None)

    return run


def _queued_values(checked: CheckedSend, number: Row[Any], media: Media | None) -> dict[str, Any]:
    """A new message's row: queued, due now."""
    at = now()
    return {
        "sender_number_id": number.id,
        "sender_phone": number.phone,
        "to_phone": checked.to_phone,
        "message_type": checked.type,
        "content": checked.content,
        "caption": checked.caption,
        "media_id": media.id if media else None,
        "duration": checked.duration,
        "status": MessageStatus.QUEUED.value,
        "attempts": 0,
        "next_attempt_at": at,
        "queued_at": at,
        "updated_at": at,
    }


async def send_for_tenant(
    session: AsyncSession,
    runtime: Runtime,
    tenant_id: int,
    req: SendRequest,
    upload: UploadFile | None,
    *,
    multipart: bool,
) -> tuple[Message, Media | None]:
    """The send for a tenant (the API's key or the dashboard's signed-in user): the same checks and errors,
    the message written in the caller's transaction and its job published after commit."""
    checked = validate(req, upload, multipart=multipart)
    sniffed: Sniffed | None = None
    if checked.type in MEDIA_TYPES and upload is not None:
        sniffed = await media_service.inspect(checked.type, upload)
    number = await _resolve_sender(session, tenant_id, checked)
    await optouts.refuse_if_opted_out(session, tenant_id, checked.to_phone)  # 422 recipient_opted_out
    await _check_recipient(runtime, checked.to_phone, number.phone, session=session)
    media = None
    if sniffed is not None and upload is not None:
        media = await media_service.store(
            session, runtime, tenant_id, checked.type, upload, sniffed, max_duration=checked.duration
        )
    message = await insert_queued(session, tenant_id, _queued_values(checked, number, media), media)
    add_request_log_fields(message_id=message.id)  # the accept's log line names the message
    _deliver_after_commit(session, runtime, message.id)
    return message, media


async def queue_reply(
    session: AsyncSession, runtime: Runtime, tenant_id: int, number: SenderNumber, to_phone: str, text: str
) -> Message:
    """The platform's own text reply from ``number`` to a contact who wrote to it (an opt-out keyword's
    confirmation, issue 18): queued and delivered like a tenant's message — retried, or failed with a reason —
    and not refused for a phone on the suppression list (a STOP's confirmation goes to the phone that just
    opted out; delivery fails only what was queued before the entry)."""
    at = now()
    values = {
        "sender_number_id": number.id,
        "sender_phone": number.phone,
        "to_phone": to_phone,
        "message_type": "text",
        "content": text,
        "caption": None,
        "media_id": None,
        "duration": None,
        "status": MessageStatus.QUEUED.value,
        "attempts": 0,
        "next_attempt_at": at,
        "queued_at": at,
        "updated_at": at,
    }
    message = await insert_queued(session, tenant_id, values, None)
    _deliver_after_commit(session, runtime, message.id)
    return message


def _deliver_after_commit(session: AsyncSession, runtime: Runtime, message_id: int) -> None:
    async def enqueue() -> None:
        MESSAGES_ACCEPTED.inc()
        try:
            await publish(runtime, "messages.deliver", {"id": message_id})
        except Exception as exc:  # the sweeper re-publishes it; the message is safe in the database
            log.warning("publish_failed", message_id=message_id, error=type(exc).__name__)

    after_commit(session, enqueue)


async def _check_recipient(
    runtime: Runtime, to_phone: str, sender_phone: str, *, session: AsyncSession | None = None
) -> None:
    """From the reachability directory (no Connect round trip), or live for a phone it cannot answer for.
    Pass the send's ``session``: the directory is then read on its connection, not a second pooled one."""
    try:
        lookup = await recipient_lookup(runtime, to_phone, sender_phone, session)
    except ConnectUnavailable:
        # Accept while Connect is unreachable: delivery checks again and fails with the reason if it must.
        log.warning("recipient_check_skipped", reason="connect_unavailable")
        return
    if not lookup.can_receive:
        raise RecipientUnreachable(
            "recipient_unreachable",
            params={"reason_code": lookup.reason_code},
            extra={"reason_code": lookup.reason_code},
        )


async def get_message(
    session: AsyncSession, tenant_id: int, message_id: int
) -> tuple[Message, Media | None, list[MessageStatusEvent]]:
    repo = MessageRepository(session, tenant_id)
    found = await repo.get(message_id)
    if found is None:
        raise NotFound()
    return found[0], found[1], await repo.history(message_id)


async def list_messages(
    session: AsyncSession,
    tenant_id: int,
    *,
    limit: int | None,
    cursor: str | None,
    filters: dict[str, Any],
) -> tuple[list[tuple[Message, Media | None]], str | None]:
    size = check_limit(limit)
    position = decode_cursor(cursor, "id")
    if filters.get("to_phone"):
        filters["to_phone"] = normalize_phone(filters["to_phone"], "to_phone")
    if filters.get("since") and filters.get("until") and filters["since"] >= filters["until"]:
        raise ValidationFailed({"until": ["Must be after since."]})
    by_time = bool(filters.get("since") or filters.get("until"))
    before_id, before_queued_at = _message_cursor(position)
    rows = await MessageRepository(session, tenant_id).page(
        limit=size + 1, before_id=before_id, before_queued_at=before_queued_at, **filters
    )
    next_cursor = None
    if len(rows) > size:
        last = rows[size - 1][0]
        # A time-range page is ordered by (queued_at, id): its cursor carries both.
        next_cursor = (
            encode_cursor(id=last.id, queued_at=last.queued_at.isoformat())
            if by_time
            else encode_cursor(id=last.id)
        )
    return rows[:size], next_cursor


async def count_messages(session: AsyncSession, tenant_id: int, *, filters: dict[str, Any]) -> int:
    """How many messages the filters of ``list_messages`` match (all pages)."""
    if filters.get("to_phone"):
        filters = {**filters, "to_phone": normalize_phone(filters["to_phone"], "to_phone")}
    return await MessageRepository(session, tenant_id).count(**filters)


async def iter_messages(
    db: Database, tenant_id: int, *, filters: dict[str, Any], page_size: int = MAX_LIMIT
) -> AsyncIterator[list[tuple[Message, Media | None]]]:
    """Every message the filters match, newest first, one keyset page at a time (for an export: memory
    stays one page whatever the log's size). Each page is one read on a pooled connection without a
    transaction, so no lock is held between pages; the cursor keeps the pages consistent."""
    cursor: str | None = None
    while True:
        async with db.read_scope() as conn, AsyncSession(bind=conn, expire_on_commit=False) as session:
            rows, cursor = await list_messages(
                session, tenant_id, limit=page_size, cursor=cursor, filters=dict(filters)
            )
        if rows:
            yield rows
        if cursor is None:
            return


def _message_cursor(position: dict[str, Any] | None) -> tuple[int | None, datetime | None]:
    before_id = cursor_id(position)
    raw = position.get("queued_at") if position else None
    if raw is None:
        return before_id, None
    try:
        queued_at = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        queued_at = None
    if queued_at is None or queued_at.tzinfo is None:
        raise ValidationFailed({"cursor": ["This cursor is not valid."]})
    return before_id, queued_at
