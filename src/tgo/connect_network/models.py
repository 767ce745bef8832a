"""Tables of the reference TGO Connect network (prefix ``connect_``). They share ``tgo.models.Base``'s metadata
(one Alembic history); the Business side's record of applied Connect events is ``tgo.models``' own table."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, LargeBinary, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tgo.kit.clock import now
from tgo.models.base import Base, BigId, UTCDateTime


class ConnectAccountRow(Base):
    """A person on the Connect network, known by their phone number."""

    __tablename__ = "connect_accounts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    phone: Mapped[str] = mapped_column(String(20), unique=True)  # E.164
    name: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(5), default="en")
    phone_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    account_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    account_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    # Bumped by every change of what decides reachability (service.reachability_changed); the Business
    # side's directory keeps the highest version it has seen per phone.
    reachability_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ConnectBlockRow(Base):
    """An account has blocked a business sender phone."""

    __tablename__ = "connect_blocks"
    __table_args__ = (UniqueConstraint("account_id", "sender_phone"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("connect_accounts.id", ondelete="CASCADE"))
    sender_phone: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class ConnectInboxMessageRow(Base):
    """A message placed in an account's inbox; ``business_message_id`` makes acceptance idempotent."""

    __tablename__ = "connect_inbox_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    business_message_id: Mapped[str] = mapped_column(String(200), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("connect_accounts.id", ondelete="CASCADE"), index=True)
    sender_phone: Mapped[str] = mapped_column(String(20))
    sender_name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(20))
    content: Mapped[str | None] = mapped_column(Text, nullable=True)
    caption: Mapped[str | None] = mapped_column(Text, nullable=True)
    media: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ConnectDeliveryAttemptRow(Base):
    """Every acceptance request per business message id, duplicates and refusals included."""

    __tablename__ = "connect_delivery_attempts"

    business_message_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class ConnectEventRow(Base):
    """Connect's outbox: events to post (signed) to the Business side, in order, until acknowledged."""

    __tablename__ = "connect_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    type: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, index=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)


# The tables the Connect network owns (created in its own SQLite file by the embedded default).
CONNECT_TABLES: list[Table] = [
    cast(Table, ConnectAccountRow.__table__),
    cast(Table, ConnectBlockRow.__table__),
    cast(Table, ConnectInboxMessageRow.__table__),
    cast(Table, ConnectDeliveryAttemptRow.__table__),
    cast(Table, ConnectEventRow.__table__),
]


class ConnectLinkRow(Base):
    """A phone that is some business's active sender number: accounts may write to it (issue 18)."""

    __tablename__ = "connect_links"

    phone: Mapped[str] = mapped_column(String(20), primary_key=True)  # E.164
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class ConnectMediaRow(Base):
    """A file an account attached to a message it wrote; the Business side fetches it once."""

    __tablename__ = "connect_media"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(BigId)
    filename: Mapped[str | None] = mapped_column(String(255), nullable=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class ConnectSentMessageRow(Base):
    """A message an account wrote to a business's sender number (reported as ``message.received``)."""

    __tablename__ = "connect_sent_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("connect_accounts.id", ondelete="CASCADE"), index=True)
    from_phone: Mapped[str] = mapped_column(String(20))
    to_phone: Mapped[str] = mapped_column(String(20))
    type: Mapped[str] = mapped_column(String(20))
    content: Mapped[str | None] = mapped_column(Text, nullable=True)
    caption: Mapped[str | None] = mapped_column(Text, nullable=True)
    media_id: Mapped[int | None] = mapped_column(ForeignKey("connect_media.id"), nullable=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


CONNECT_TABLES += [
    cast(Table, ConnectLinkRow.__table__),
    cast(Table, ConnectMediaRow.__table__),
    cast(Table, ConnectSentMessageRow.__table__),
]
