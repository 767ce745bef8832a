"""Mobile-originated SMS (issue 18): what a handset wrote to one of a tenant's SMS sender numbers, its
concatenated parts joined. A table of its own: nothing about it is delivered, counted or swept."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from tgo.kit.clock import now
from tgo.models.base import Base, BigId, UTCDateTime


class SmsInboundMessage(Base):
    __tablename__ = "sms_inbound_messages"
    __table_args__ = (Index("ix_sms_inbound_tenant_received", "tenant_id", "received_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[int] = mapped_column(BigId, ForeignKey("tenants.id", ondelete="CASCADE"))
    sender_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("sms_senders.id", ondelete="CASCADE"))
    from_phone: Mapped[str] = mapped_column(String(20))
    to: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    encoding: Mapped[str] = mapped_column(String(10))
    segments: Mapped[int] = mapped_column(Integer)
    characters: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
