"""Applying what a contact wrote (Connect's ``message.received``, issue 18): an inbound message in every
tenant whose active sender number it was written to, its conversation, its media, the opt-out keywords and
their replies, and the ``message.received`` webhook event — all in the receiving transaction, which Connect's
event id makes happen once. A run of such events is applied together (``apply_received_many``): the
messages of a tenant in one INSERT, their conversations in one upsert, the webhook events in bulk, and the
keywords in the order they were written."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from tgo import events
from tgo.channels.connect_protocol import InvalidPhone, normalize_phone
from tgo.conversations.repository import ConversationRepository
from tgo.db import after_rollback
from tgo.errors import ValidationFailed
from tgo.events import EventType
from tgo.kit.clock import now
from tgo.media import sniff
from tgo.media.filenames import clean_filename
from tgo.messages import service as messages_service
from tgo.messages.schemas import message_view
from tgo.models import Media, Message, SenderNumber, Tenant
from tgo.optouts import service as optouts
from tgo.optouts.keywords import Keyword, classify
from tgo.runtime import Runtime
from tgo.senders.repository import SenderNumbersByPhone

log = structlog.get_logger("tgo.conversations.inbound")

TYPES = ("text", "image", "voice", "document")
RECEIVED = "received"  # the status of an inbound message


@dataclass(frozen=True)
class Received:
    connect_message_id: int
    from_phone: str
    language: str
    to_phone: str
    type: str
    content: str | None
    caption: str | None
    media: dict[str, Any] | None
    sent_at: datetime


def _parse(data: dict[str, Any]) -> Received:
    try:
        sent_at = datetime.fromisoformat(str(data["sent_at"]).replace("Z", "+00:00"))
        kind = str(data["type"])
        if kind not in TYPES or sent_at.tzinfo is None:
            raise ValueError(kind)
        content = data.get("content")
        caption = data.get("caption")
        media = data.get("media")
        return Received(
            connect_message_id=int(data["connect_message_id"]),
            from_phone=normalize_phone(str(data["from_phone"])),
            language="ar" if data.get("from_language") == "ar" else "en",
            to_phone=normalize_phone(str(data["to_phone"])),
            type=kind,
            content=content if isinstance(content, str) else None,
            caption=caption if isinstance(caption, str) else None,
            media=media if isinstance(media, dict) else None,
            sent_at=sent_at,
        )
    except (KeyError, TypeError, ValueError, InvalidPhone):
        raise ValidationFailed({"data": ["Not a message.received event."]}) from None


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _store_media(
    session: AsyncSession, runtime: Runtime, tenant_id: int, kind: str, blob: bytes, filename: str | None
) -> Media | None:
    """The contact's file as the tenant's media (its type sniffed again: never trusted), or None when it is
    not an allowed format (the message is kept without it)."""
    try:
        sniffed = sniff.sniff(kind, blob[: sniff.HEAD_BYTES], filename)
    except sniff.Rejected as exc:
        log.warning("inbound_media_refused", reason=exc.reason)
        return None
    storage = runtime.media_storage.get()
    stored = await storage.save(_one(blob), max_size=max(sniff.LIMITS.values()))

    async def forget_file() -> None:
        # The transaction that would have recorded the file rolled back (a handler failed, Connect retries):
        # no row will ever point at it.
        await storage.delete(stored.key)

    after_rollback(session, forget_file)
    return await ConversationRepository(session, tenant_id).add_media(
        Media(
            kind=kind,
            content_type=sniffed.content_type,
            size=stored.size,
            sha256=stored.sha256,
            filename=clean_filename(filename),
            storage_key=stored.key,
            created_at=now(),
        )
    )


async def apply_received(session: AsyncSession, runtime: Runtime, data: dict[str, Any]) -> int:
    """Apply one ``message.received``; returns how many tenants it reached (0: the number is no longer
    active anywhere — acknowledged, nothing to store)."""
    return await apply_received_many(session, runtime, [data])


@dataclass(frozen=True)
class _Entry:
    """One inbound message to store: an event as it reaches one tenant's number."""

    number: SenderNumber
    msg: Received
    media: Media | None
    keyword: Keyword | None


async def apply_received_many(
    session: AsyncSession, runtime: Runtime, items: Sequence[dict[str, Any]]
) -> int:
    """Apply consecutive ``message.received`` events in order; returns how many inbound messages were stored
    (one per event and tenant reached)."""
    parsed = [_parse(data) for data in items]
    finder = SenderNumbersByPhone(session)
    numbers_of: dict[str, list[SenderNumber]] = {}
    entries: list[_Entry] = []
    for msg in parsed:
        if msg.to_phone not in numbers_of:
            numbers_of[msg.to_phone] = await finder.active(msg.to_phone)
        numbers = numbers_of[msg.to_phone]
        if not numbers:
            log.warning("inbound_for_inactive_number", to_phone=msg.to_phone)
            continue
        blob: bytes | None = None
        if msg.media is not None and msg.type != "text":
            # Raises ConnectUnavailable when Connect cannot answer: the event is retried later.
            blob, _declared = await runtime.connect.get().fetch_media(int(msg.media["id"]))
        keyword = classify(msg.content) if msg.type == "text" else None
        for number in numbers:
            media = None
            if blob is not None:
                filename = (msg.media or {}).get("filename")
                media = await _store_media(session, runtime, number.tenant_id, msg.type, blob, filename)
            entries.append(_Entry(number, msg, media, keyword))
    if not entries:
        return 0
    at = now()
    stored: dict[int, tuple[Message, int]] = {}  # entry index → (its message, its conversation id)
    by_tenant: dict[int, list[int]] = {}
    for n, entry in enumerate(entries):
        by_tenant.setdefault(entry.number.tenant_id, []).append(n)
    for tenant_id, indexes in by_tenant.items():
        repo = ConversationRepository(session, tenant_id)
        rows = [_message_row(entries[n], at) for n in indexes]
        ids = await repo.insert_messages(rows)
        counts: dict[tuple[int, str], int] = {}
        for n in indexes:
            key = (entries[n].number.id, entries[n].msg.from_phone)
            counts[key] = counts.get(key, 0) + 1
        conversations = await repo.upsert_inbound_many([(k[0], k[1], c, at) for k, c in counts.items()])
        for n, row, message_id in zip(indexes, rows, ids, strict=True):
            message = Message(**row, id=message_id, tenant_id=tenant_id)
            stored[n] = (message, conversations[(entries[n].number.id, entries[n].msg.from_phone)])
    # The webhook events in the order written, each keyword applied right after its own message's event (a
    # STOP's ``contact.opted_out`` follows its ``message.received``, and a later START undoes it).
    segment: list[tuple[int, EventType, dict[str, Any]]] = []
    for n, entry in enumerate(entries):
        message, conversation_id = stored[n]
        view = message_view(message, entry.media).to_dict() | {"conversation_id": conversation_id}
        segment.append((entry.number.tenant_id, EventType.MESSAGE_RECEIVED, view))
        if entry.keyword is not None:
            await events.emit_many(session, segment)
            segment = []
            await _apply_keyword(session, runtime, entry.number, entry.msg, entry.keyword)
    await events.emit_many(session, segment)
    return len(entries)


def _message_row(entry: _Entry, at: datetime) -> dict[str, Any]:
    number, msg = entry.number, entry.msg
    return {
        "sender_number_id": number.id,
        "sender_phone": number.phone,
        "to_phone": number.phone,
        "from_phone": msg.from_phone,
        "direction": "inbound",
        "message_type": msg.type,
        "content": msg.content,
        "caption": msg.caption,
        "media_id": entry.media.id if entry.media else None,
        "status": RECEIVED,
        "attempts": 0,
        "next_attempt_at": at,
        "queued_at": msg.sent_at,
        "received_at": at,
        "updated_at": at,
    }


async def _apply_keyword(
    session: AsyncSession,
    runtime: Runtime,
    number: SenderNumber,
    msg: Received,
    keyword: Keyword,
) -> None:
    tenant_id = number.tenant_id
    if keyword is Keyword.STOP:
        await optouts.opt_out(session, tenant_id, msg.from_phone, channel="connect", source="keyword")
    elif keyword is Keyword.START:
        await optouts.opt_in(session, tenant_id, msg.from_phone, channel="connect", source="keyword")
    tenant = await session.get(Tenant, tenant_id)
    organization = number.display_name or (tenant.name if tenant else "")
    text = await optouts.keyword_reply(session, tenant_id, keyword, msg.language, organization)
    if text is None:  # the tenant turned confirmations off
        return
    # Queued in the keyword's own transaction (applied once per event): delivered, retried or failed with a
    # reason like any message, and shown in the conversation. The opt-out stands whatever becomes of it.
    await messages_service.queue_reply(session, runtime, tenant_id, number, msg.from_phone, text)
