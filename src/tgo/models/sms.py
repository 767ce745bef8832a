"""SMS sender identities, SMS messages and their SMSC parts (seed 004: UUID ids)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from tgo.kit.clock import now
from tgo.models.base import Base, BigId, UTCDateTime


class SmsSender(Base):
    __tablename__ = "sms_senders"
    __table_args__ = (
        UniqueConstraint("tenant_id", "sender_type", "sender_id", "country", name="uq_sms_senders_identity"),
        Index("ix_sms_senders_tenant_created", "tenant_id", "created_at", "id"),
        Index("ix_sms_senders_status_due", "status", "verification_due_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[int] = mapped_column(BigId, ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    sender_id: Mapped[str] = mapped_column(String(20))
    sender_type: Mapped[str] = mapped_column(String(20))
    country: Mapped[str] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(20))
    default_message_type: Mapped[str] = mapped_column(String(20))
    transactional_only: Mapped[bool] = mapped_column(Boolean, default=False)
    rejection_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # When the carrier's answer is due (pending only): the task waits for it, the sweeper catches up.
    verification_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class SmsMessage(Base):
    __tablename__ = "sms_messages"
    __table_args__ = (
        Index("ix_sms_messages_tenant_created", "tenant_id", "created_at", "id"),
        Index("ix_sms_messages_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[int] = mapped_column(BigId, ForeignKey("tenants.id", ondelete="CASCADE"))
    # RESTRICT: a sender that has sent a message cannot be deleted (seed 004).
    sender_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("sms_senders.id", ondelete="RESTRICT"), index=True
    )
    to: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    message_type: Mapped[str] = mapped_column(String(20))
    encoding: Mapped[str] = mapped_column(String(10))
    segments: Mapped[int] = mapped_column(Integer)
    characters: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    # The concatenation reference (0-255) stays the same across retries so parts reassemble.
    concat_ref: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class SmsMessagePart(Base):
    """One submitted segment: the SMSC's message id (for receipts) and its receipt state."""

    __tablename__ = "sms_message_parts"
    __table_args__ = (UniqueConstraint("message_id", "part_number", name="uq_sms_message_parts_part"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("sms_messages.id", ondelete="CASCADE"), index=True
    )
    part_number: Mapped[int] = mapped_column(Integer)
    smsc_message_id: Mapped[str] = mapped_column(String(80), index=True)
    receipt_state: Mapped[str | None] = mapped_column(String(20), nullable=True)
    receipt_error: Mapped[str | None] = mapped_column(String(20), nullable=True)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    receipt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    extra: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)
