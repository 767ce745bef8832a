"""A Connect account writes to a business's sender number (issue 18): the rules of acceptance (the account
can write, the phone is linked to a business, the body is sound), the stored message and its media, and the
``message.received`` event owed to the Business side, in the same transaction — for a batch of replies at
once (``ConnectNetwork.write`` group-commits the replies that arrive together). Never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import filetype
import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.channels.connect_protocol import InvalidPhone, normalize_phone
from tgo.channels.connect_types import (
    EVENT_MESSAGE_RECEIVED,
    MAX_TEXT_CHARS,
    PhoneMessage,
    ReasonCode,
    ReceivedMedia,
    reason_code,
)
from tgo.errors import AppError, NotFound, ValidationFailed
from tgo.kit.clock import now

from .models import ConnectAccountRow, ConnectMediaRow
from .repository import ConnectRepository
from .service import EVENTS_WRITTEN, AccountNotFound, ReasonRefusal

WRITABLE_TYPES = ("text", "image", "voice", "document")
MB = 1024 * 1024
# The reference network keeps files in its database, so its limits are modest.
MEDIA_LIMITS = {"image": 5 * MB, "voice": 16 * MB, "document": 16 * MB}
IMAGE_TYPES = {"image/jpeg", "image/png", "image/webp"}


class NotABusinessNumber(AppError):
    """The phone written to is no business's active sender number."""

    status_code = 422
    code = "not_a_business_number"
    message_key = "connect.not_a_business_number"


class AccountCannotWrite(ReasonRefusal):
    """The writing account cannot send (disabled, phone not verified)."""

    code = "account_cannot_write"
    message_prefix = "connect.writer"


class MediaNotFound(NotFound):
    code = "media_not_found"
    message_key = "connect.media_not_found"


@dataclass(frozen=True)
class Attachment:
    data: bytes
    filename: str | None
    declared_type: str | None


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _content_type(kind: str, att: Attachment) -> str:
    guess = filetype.guess(att.data[:8192])
    mime: str | None = str(guess.mime) if guess is not None else None
    if kind == "image":
        if mime not in IMAGE_TYPES:
            raise ValidationFailed({"media": ["An image must be a JPEG, PNG or WebP file."]})
        return mime
    if kind == "voice":
        if mime is None or not mime.startswith("audio/"):
            raise ValidationFailed({"media": ["A voice message must be an audio file."]})
        return mime
    if mime is not None:
        return mime
    try:
        att.data.decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    return "text/plain"


def _check(
    to_phone: object, kind: object, content: object, caption: object, attachment: Attachment | None
) -> tuple[str, str, str | None, str | None]:
    errors: dict[str, list[str]] = {}
    to = ""
    try:
        to = normalize_phone(to_phone if isinstance(to_phone, str) else "")
    except InvalidPhone:
        errors["to_phone"] = ["Must be a valid phone number in E.164 format."]
    if kind not in WRITABLE_TYPES:
        errors["type"] = [f"Must be one of: {', '.join(WRITABLE_TYPES)}."]
    text = content if isinstance(content, str) else None
    note = caption if isinstance(caption, str) and caption != "" else None
    if kind == "text":
        if not text or not text.strip():
            errors["content"] = ["A text message needs content."]
        elif len(text) > MAX_TEXT_CHARS:
            errors["content"] = [f"At most {MAX_TEXT_CHARS} characters."]
        if attachment is not None:
            errors["media"] = ["A text message has no media."]
        if note is not None:
            errors["caption"] = ["Only image and document messages have a caption."]
    elif kind in MEDIA_LIMITS:
        if attachment is None:
            errors["media"] = ["Attach the file in the `media` field (multipart/form-data)."]
        elif not attachment.data:
            errors["media"] = ["The file is empty."]
        elif len(attachment.data) > MEDIA_LIMITS[str(kind)]:
            errors["media"] = [f"At most {MEDIA_LIMITS[str(kind)] // MB} MB for {kind}."]
        if text not in (None, ""):
            errors["content"] = ["Media messages carry no content; use caption for image and document."]
        text = None
        if note is not None and (kind == "voice" or len(note) > 1024):
            errors["caption"] = ["Voice messages have no caption; others at most 1024 characters."]
    for field, value in (("content", text), ("caption", note)):
        if value is not None and "\x00" in value:  # PostgreSQL text cannot hold it: a 422, not a 500
            errors.setdefault(field, []).append("Must not contain NUL characters.")
    if errors:
        raise ValidationFailed(errors)
    return to, str(kind), text, note


@dataclass(frozen=True)
class Reply:
    """A message an account writes, checked as far as its request alone tells: the writer's phone, and
    either the sound body (``to``, type, text, caption, the file's type) or why it is not."""

    phone: str
    to: str = ""
    kind: str = ""
    text: str | None = None
    note: str | None = None
    attachment: Attachment | None = None
    content_type: str | None = None
    invalid: ValidationFailed | None = None


def prepare(
    phone: str,
    *,
    to_phone: object,
    kind: object,
    content: object = None,
    caption: object = None,
    attachment: Attachment | None = None,
) -> Reply:
    """``phone``'s message to ``to_phone`` as the batch writes it. A phone that is no E.164 number is a 422
    at once; a body that is not sound is answered after the account is found (an unknown account is a 404
    whatever its body)."""
    try:
        e164 = normalize_phone(phone)
    except InvalidPhone:
        raise ValidationFailed({"phone": ["Not a valid phone number in E.164 format."]}) from None
    try:
        to, kind_, text, note = _check(to_phone, kind, content, caption, attachment)
        mime = _content_type(kind_, attachment) if attachment is not None else None
    except ValidationFailed as exc:
        return Reply(phone=e164, invalid=exc)
    return Reply(
        phone=e164, to=to, kind=kind_, text=text, note=note, attachment=attachment, content_type=mime
    )


def _refusal(reply: Reply, account: ConnectAccountRow | None, linked: set[str]) -> AppError | None:
    """Why ``reply`` is not taken, in the order the account's rules come: the account, the body, whether the
    account can write, whether ``to`` is a business's number."""
    if account is None:
        return AccountNotFound()
    if reply.invalid is not None:
        return reply.invalid
    reason = reason_code(
        exists=True,
        disabled=account.disabled,
        phone_verified=account.phone_verified_at is not None,
        blocked_sender=False,
    )
    if reason is not ReasonCode.OK:
        return AccountCannotWrite(reason)
    if reply.to not in linked:
        return NotABusinessNumber(params={"phone": reply.to})
    return None


async def write_batch(session: AsyncSession, replies: Sequence[Reply]) -> list[PhoneMessage | AppError]:
    """The replies that may be written, stored with their files and their ``message.received`` events in the
    session's transaction (a few multi-row statements for the batch); one result per reply, in order: the
    stored message, or the refusal to answer it with."""
    repo = ConnectRepository(session)
    accounts = await repo.accounts_by_phones([r.phone for r in replies])
    linked = await repo.linked_among([r.to for r in replies if r.invalid is None and r.phone in accounts])
    results: dict[int, PhoneMessage | AppError] = {}
    taken: list[tuple[int, Reply, ConnectAccountRow]] = []
    for index, reply in enumerate(replies):
        account = accounts.get(reply.phone)
        refusal = _refusal(reply, account, linked)
        if refusal is not None:
            results[index] = refusal
        elif account is not None:
            taken.append((index, reply, account))
    if not taken:
        return [results[i] for i in range(len(replies))]
    at = now()
    with_files = [(index, reply) for index, reply, _ in taken if reply.attachment is not None]
    media_ids = await repo.insert_media(
        [
            {
                "content_type": reply.content_type,
                "size": len(reply.attachment.data),
                "filename": (reply.attachment.filename or "")[:255] or None,
                "data": reply.attachment.data,
                "created_at": at,
            }
            for _, reply in with_files
            if reply.attachment is not None
        ]
    )
    media: dict[int, ReceivedMedia] = {
        index: ReceivedMedia(
            id=media_id,
            content_type=str(reply.content_type),
            size=len(reply.attachment.data),
            filename=(reply.attachment.filename or "")[:255] or None,
        )
        for (index, reply), media_id in zip(with_files, media_ids, strict=True)
        if reply.attachment is not None
    }
    ids = await repo.insert_sent_messages(
        [
            {
                "account_id": account.id,
                "from_phone": account.phone,
                "to_phone": reply.to,
                "type": reply.kind,
                "content": reply.text,
                "caption": reply.note,
                "media_id": media[index].id if index in media else None,
                "sent_at": at,
            }
            for index, reply, account in taken
        ]
    )
    sent_at = _iso(at)
    events: list[dict[str, Any]] = []
    for (index, reply, account), message_id in zip(taken, ids, strict=True):
        ref = media.get(index)
        events.append(
            {
                "event_id": uuid.uuid4().hex,
                "type": EVENT_MESSAGE_RECEIVED,
                "data": {
                    "connect_message_id": message_id,
                    "from_phone": account.phone,
                    "from_name": account.name,
                    "from_language": account.language,
                    "to_phone": reply.to,
                    "type": reply.kind,
                    "content": reply.text,
                    "caption": reply.note,
                    "media": None if ref is None else msgspec.to_builtins(ref),
                    "sent_at": sent_at,
                },
                "attempts": 0,
                "created_at": at,
                "next_attempt_at": at,
            }
        )
        results[index] = PhoneMessage(
            id=message_id,
            from_phone=account.phone,
            to_phone=reply.to,
            type=reply.kind,
            content=reply.text,
            caption=reply.note,
            media=ref,
            sent_at=at,
        )
    await repo.insert_events(events)  # in the replies' order: the pump keeps it per conversation
    session.info[EVENTS_WRITTEN] = True
    return [results[i] for i in range(len(replies))]


async def media_file(session: AsyncSession, media_id: int) -> ConnectMediaRow:
    row = await ConnectRepository(session).media(media_id)
    if row is None:
        raise MediaNotFound()
    return row
