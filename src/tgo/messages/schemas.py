from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from tgo.kit.schemas import Schema
from tgo.models import Media, Message


class MediaInfo(Schema):
    id: int
    content_type: str
    size: int
    filename: str | None
    url: str


class MessageView(Schema):
    id: int
    sender_number_id: int
    sender_phone: str
    to_phone: str
    message_type: str
    content: str | None
    caption: str | None
    media: MediaInfo | None
    duration: int | None
    status: str
    failure_code: str | None
    failure_reason: str | None
    created_at: datetime
    queued_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None
    failed_at: datetime | None
    updated_at: datetime
    # Two-way messaging (issue 18): inbound messages were written by from_phone to the sender number.
    direction: str
    from_phone: str | None
    received_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = msgspec.to_builtins(self)
        return data


class StatusChange(Schema):
    status: str
    at: datetime
    detail: str | None


class MessageDetail(MessageView):
    history: list[StatusChange]


class MessageList(Schema):
    data: list[MessageView]
    next_cursor: str | None = None


def media_info(media: Media | None) -> MediaInfo | None:
    if media is None:
        return None
    return MediaInfo(
        id=media.id,
        content_type=media.content_type,
        size=media.size,
        filename=media.filename,
        url=f"/api/v1/media/{media.id}",
    )


def message_view(m: Message, media: Media | None = None) -> MessageView:
    return MessageView(
        id=m.id,
        sender_number_id=m.sender_number_id,
        sender_phone=m.sender_phone,
        to_phone=m.to_phone,
        message_type=m.message_type,
        content=m.content,
        caption=m.caption,
        media=media_info(media),
        duration=m.duration,
        status=m.status,
        failure_code=m.failure_code,
        failure_reason=m.failure_reason,
        created_at=m.queued_at,
        queued_at=m.queued_at,
        sent_at=m.sent_at,
        delivered_at=m.delivered_at,
        read_at=m.read_at,
        failed_at=m.failed_at,
        updated_at=m.updated_at,
        direction=m.direction or "outbound",
        from_phone=m.from_phone or m.sender_phone,
        received_at=m.received_at,
    )
