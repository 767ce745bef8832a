"""The usage report's shape (what ``usage.service.usage`` returns, as the API documents and sends it)."""

from __future__ import annotations

from datetime import date

import msgspec

from tgo.kit.schemas import Schema


class ByType(Schema):
    text: int = 0
    image: int = 0
    voice: int = 0
    document: int = 0


class ByStatus(Schema):
    queued: int = 0
    sent: int = 0
    delivered: int = 0
    read: int = 0
    failed: int = 0


class Counts(Schema):
    total: int
    by_type: ByType
    by_status: ByStatus


class UsageDay(Counts):
    day: date


class SenderUsage(Counts):
    sender_number_id: int
    sender_phone: str | None
    days: list[UsageDay] | msgspec.UnsetType = msgspec.UNSET  # with granularity=day only


class UsageReport(Schema):
    since: date | None
    until: date | None
    data: list[SenderUsage]
    totals: Counts
