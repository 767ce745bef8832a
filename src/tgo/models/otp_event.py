from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from tgo.kit.clock import now
from tgo.models.base import Base, BigId, UTCDateTime


class OtpEventKind(StrEnum):
    SENT = "sent"  # an OTP message to the phone
    WRONG_CODE = "wrong_code"  # a wrong code entered for the phone
    LOCKED = "locked"  # the tenant entered too many wrong codes: locked out of the phone for a day


class OtpEvent(Base):
    """The OTP ledger: every OTP sent, wrong code and lockout, keyed by phone with the tenant. The limits
    that protect a phone's owner are counted here, not on a sender number, so deleting a number (or the
    tenant: no foreign key on purpose) does not reset them."""

    __tablename__ = "otp_events"
    __table_args__ = (Index("ix_otp_events_phone_kind_created", "phone", "kind", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    phone: Mapped[str] = mapped_column(String(20))
    tenant_id: Mapped[int] = mapped_column(BigId)
    kind: Mapped[str] = mapped_column(String(20))  # OtpEventKind
    otp_id: Mapped[int | None] = mapped_column(BigId, nullable=True)  # the sender_otps row of a send
    delivery_failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class OtpPhone(Base):
    """One row per phone that was ever sent an OTP: every OTP operation on the phone first locks it, so
    parallel registrations, resends and wrong codes (from any tenant) are counted one after the other."""

    __tablename__ = "otp_phones"

    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    touched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
