from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

from tgo.kit.schemas import Schema
from tgo.models import SenderNumber


class SenderNumberCreate(Schema):
    phone: Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
    display_name: Annotated[str, msgspec.Meta(max_length=100)] | None = None


class OtpSubmit(Schema):
    otp: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{6}$", description="The 6-digit code from TGO Connect")]


class SenderNumberView(Schema):
    id: int
    phone: str
    display_name: str | None
    status: str
    verification_status: str
    can_send: bool
    created_at: datetime
    updated_at: datetime
    status_changed_at: datetime
    otp_verified_at: datetime | None
    account_verified_at: datetime | None
    activated_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = msgspec.to_builtins(self)
        return data


class SenderNumberList(Schema):
    data: list[SenderNumberView]
    next_cursor: str | None = None


def sender_number_view(n: SenderNumber) -> SenderNumberView:
    from tgo.senders.state import can_send

    return SenderNumberView(
        id=n.id,
        phone=n.phone,
        display_name=n.display_name,
        status=n.status,
        verification_status=n.verification_status,
        can_send=can_send(n),
        created_at=n.created_at,
        updated_at=n.updated_at,
        status_changed_at=n.status_changed_at,
        otp_verified_at=n.otp_verified_at,
        account_verified_at=n.account_verified_at,
        activated_at=n.activated_at,
    )
