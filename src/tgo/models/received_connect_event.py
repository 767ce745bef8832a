"""Business side: the Connect events already applied (``received_connect_events``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from tgo.kit.clock import now
from tgo.models.base import Base, UTCDateTime


class ReceivedConnectEvent(Base):
    """Business side: a Connect event already applied (events are delivered at least once)."""

    __tablename__ = "received_connect_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
