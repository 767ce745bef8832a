"""SMS surface bodies: camelCase JSON (seed 004), UUID ids, ISO 8601 UTC timestamps with ``Z``.

Request fields are typed loosely (``Any``) on purpose: the service validates them and answers 422
with one message per field, in the request's own (camelCase) field names.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from tgo.models.sms import SmsMessage, SmsSender


class CamelSchema(msgspec.Struct, kw_only=True, forbid_unknown_fields=False, rename="camel"):
    """Unknown request fields are ignored, never applied."""


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    # Whole seconds, as the seed's example shows ("2026-04-12T10:00:00Z").
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SmsSenderCreate(CamelSchema):
    name: Any = None
    sender_id: Any = None
    sender_type: Any = None
    country: Any = None
    default_message_type: Any = None


class SmsSenderUpdate(CamelSchema):
    name: Any = msgspec.UNSET
    default_message_type: Any = msgspec.UNSET
    # Present only to be refused with a 422 naming the field: they cannot change after creation.
    sender_id: Any = msgspec.UNSET
    sender_type: Any = msgspec.UNSET
    country: Any = msgspec.UNSET


class SmsSenderOut(CamelSchema):
    id: str
    name: str
    sender_id: str
    sender_type: str
    status: str
    default_message_type: str
    transactional_only: bool
    country: str
    rejection_reason: str | None
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, row: SmsSender) -> SmsSenderOut:
        return cls(
            id=str(row.id),
            name=row.name,
            sender_id=row.sender_id,
            sender_type=row.sender_type,
            status=row.status,
            default_message_type=row.default_message_type,
            transactional_only=row.transactional_only,
            country=row.country,
            rejection_reason=row.rejection_reason,
            created_at=iso(row.created_at) or "",
            updated_at=iso(row.updated_at) or "",
        )


class SmsSenderList(CamelSchema):
    data: list[SmsSenderOut]
    next_cursor: str | None = None


class SmsMessageCreate(CamelSchema):
    sender_id: Any = None
    to: Any = None
    body: Any = None
    message_type: Any = None


class SmsMessageOut(CamelSchema):
    id: str
    sender_id: str
    to: str
    body: str
    message_type: str
    status: str
    encoding: str
    segments: int
    characters: int
    error_code: str | None
    error_message: str | None
    sent_at: str | None
    done_at: str | None
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, row: SmsMessage) -> SmsMessageOut:
        return cls(
            id=str(row.id),
            sender_id=str(row.sender_id),
            to=row.to,
            body=row.body,
            message_type=row.message_type,
            status=row.status,
            encoding=row.encoding,
            segments=row.segments,
            characters=row.characters,
            error_code=row.error_code,
            error_message=row.error_message,
            sent_at=iso(row.sent_at),
            done_at=iso(row.done_at),
            created_at=iso(row.created_at) or "",
            updated_at=iso(row.updated_at) or "",
        )


class SmsInboundOut(SmsMessageOut):
    """A received SMS (issue 18), listed with ``direction=inbound``: written by ``fromPhone`` to ``to``, one
    of the tenant's number senders. Outbound messages keep the seed's exact keys."""

    direction: str
    from_phone: str


class SmsMessageList(CamelSchema):
    data: list[SmsMessageOut]
    next_cursor: str | None = None


def as_event(obj: CamelSchema) -> dict[str, Any]:
    """The object as the API shows it (for domain events / webhooks)."""
    data: dict[str, Any] = msgspec.to_builtins(obj)
    return data
