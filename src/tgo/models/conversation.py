"""Two-way messaging (issue 18): a conversation is (tenant, sender number, contact phone); opt-outs are a
tenant's suppression list per channel, with the tenant's opt-out settings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tgo.kit.clock import now
from tgo.models.base import Base, BigId, UTCDateTime


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("tenant_id", "sender_number_id", "contact_phone"),
        Index("ix_conversations_tenant_last", "tenant_id", "last_message_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    sender_number_id: Mapped[int] = mapped_column(ForeignKey("sender_numbers.id"))
    contact_phone: Mapped[str] = mapped_column(String(20))
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    last_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    unread_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class OptOut(Base):
    """(tenant, channel, phone) on the suppression list: nothing is sent to that phone on that channel."""

    __tablename__ = "opt_outs"
    __table_args__ = (UniqueConstraint("tenant_id", "channel", "phone"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(8))  # connect | sms
    phone: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(40))  # keyword | api | dashboard | ...
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class OptOutSettings(Base):
    """A tenant's opt-out replies: confirmations on or off, and its HELP text (None: the default text)."""

    __tablename__ = "opt_out_settings"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    confirmations: Mapped[bool] = mapped_column(Boolean, default=True)
    help_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
