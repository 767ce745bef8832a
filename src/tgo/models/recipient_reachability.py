from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from tgo.kit.clock import now
from tgo.models.base import Base, UTCDateTime


class RecipientReachability(Base):
    """The Business side's copy of what decides whether a Connect phone can receive (the reachability
    directory, ``tgo.reachability``): Connect's snapshot of the account at ``version``, pushed as an event or
    read by a bulk sync. ``in_sequence`` is false when the last snapshot skipped a version (an event went
    missing): the phone is then looked up live until the next in-order snapshot or a resync."""

    __tablename__ = "recipient_reachability"

    phone: Mapped[str] = mapped_column(String(20), primary_key=True)  # E.164
    recipient_id: Mapped[int] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(BigInteger)
    disabled: Mapped[bool] = mapped_column(Boolean)
    phone_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    account_verified: Mapped[bool] = mapped_column(Boolean)
    blocked_senders: Mapped[list[Any]] = mapped_column(JSON, default=list)  # E.164 sender phones
    in_sequence: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
