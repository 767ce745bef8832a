"""A Connect account writes to a business's sender number (issue 18): the rules of acceptance (the account
can write, the phone is linked to a business, the body is sound), the stored message and its media, and the
``message.received`` event owed to the Business side, in the same transaction. Never commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import filetype
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.channels.connect_protocol import InvalidPhone, normalize_phone
from tgo.channels.connect_types import (
    EVENT_MESSAGE_RECEIVED,
    MAX_TEXT_CHARS,
    PhoneMessage,
    ReasonCode,
    ReceivedMedia,
)
from tgo.errors import AppError, NotFound, ValidationFailed
from tgo.kit.clock import now

from . import links
from .models import ConnectMediaRow, ConnectSentMessageRow
from .repository import ConnectRepository
from .service import AccountNotFound, ReasonRefusal, _reason, _record_event

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


async def write(
    session: AsyncSession,
    phone: str,
    *,
    to_phone: object,
    kind: object,
    content: object = None,
    caption: object = None,
    attachment: Attachment | None = None,
) -> PhoneMessage:
    """``phone``'s account writes to the sender number ``to_phone``; refused with a reason when the
    account cannot write or ``to_phone`` is no business's active sender number."""
    repo = ConnectRepository(session)
    try:
        e164 = normalize_phone(phone)
    except InvalidPhone:
        raise ValidationFailed({"phone": ["Not a valid phone number in E.164 format."]}) from None
    account = await repo.account_by_phone(e164)
    if account is None:
        raise AccountNotFound()
    to, kind, text, note = _check(to_phone, kind, content, caption, attachment)
    reason = await _reason(repo, account, None)
    if reason is not ReasonCode.OK:
        raise AccountCannotWrite(reason)
    if not await links.is_linked(session, to):
        raise NotABusinessNumber(params={"phone": to})
    at = now()
    media: ConnectMediaRow | None = None
    if attachment is not None:
        media = ConnectMediaRow(
            content_type=_content_type(kind, attachment),
            size=len(attachment.data),
            filename=(attachment.filename or "")[:255] or None,
            data=attachment.data,
            created_at=at,
        )
        session.add(media)
        await session.flush()
    row = ConnectSentMessageRow(
        account_id=account.id,
        from_phone=account.phone,
        to_phone=to,
        type=kind,
        content=text,
        caption=note,
        media_id=media.id if media else None,
        sent_at=at,
    )
    session.add(row)
    await session.flush()
    ref = (
        ReceivedMedia(id=media.id, content_type=media.content_type, size=media.size, filename=media.filename)
        if media
        else None
    )
    await _record_event(
        session,
        EVENT_MESSAGE_RECEIVED,
        {
            "connect_message_id": row.id,
            "from_phone": account.phone,
            "from_name": account.name,
            "from_language": account.language,
            "to_phone": to,
            "type": kind,
            "content": text,
            "caption": note,
            "media": None
            if ref is None
            else {"id": ref.id, "content_type": ref.content_type, "size": ref.size, "filename": ref.filename},
            "sent_at": _iso(at),
        },
    )
    return PhoneMessage(
        id=row.id,
        from_phone=row.from_phone,
        to_phone=to,
        type=kind,
        content=text,
        caption=note,
        media=ref,
        sent_at=at,
    )


async def media_file(session: AsyncSession, media_id: int) -> ConnectMediaRow:
    row = await ConnectRepository(session).media(media_id)
    if row is None:
        raise MediaNotFound()
    return row
