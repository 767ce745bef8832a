from __future__ import annotations

from datetime import datetime

from tgo.kit.schemas import Schema
from tgo.models import OptOut


class OptOutView(Schema):
    id: int
    phone: str
    channel: str
    source: str
    created_at: datetime


class OptOutList(Schema):
    data: list[OptOutView]
    next_cursor: str | None = None


class OptOutSettingsView(Schema):
    confirmations: bool
    help_text: str | None


def opt_out_view(row: OptOut) -> OptOutView:
    return OptOutView(
        id=row.id, phone=row.phone, channel=row.channel, source=row.source, created_at=row.created_at
    )
