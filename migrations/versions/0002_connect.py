"""connect: the reference TGO Connect network's tables and the Business side's received events

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tgo.models.base

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = tgo.models.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "connect_accounts",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("phone_verified_at", When, nullable=True),
        sa.Column("account_verified", sa.Boolean(), nullable=False),
        sa.Column("account_verified_at", When, nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_at", When, nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connect_accounts")),
        sa.UniqueConstraint("phone", name=op.f("uq_connect_accounts_phone")),
    )
    op.create_table(
        "connect_blocks",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("account_id", BigId, nullable=False),
        sa.Column("sender_phone", sa.String(length=20), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["connect_accounts.id"],
            name=op.f("fk_connect_blocks_account_id_connect_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connect_blocks")),
        sa.UniqueConstraint("account_id", "sender_phone", name=op.f("uq_connect_blocks_account_id")),
    )
    op.create_table(
        "connect_inbox_messages",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("business_message_id", sa.String(length=200), nullable=False),
        sa.Column("account_id", BigId, nullable=False),
        sa.Column("sender_phone", sa.String(length=20), nullable=False),
        sa.Column("sender_name", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("caption", sa.Text(), nullable=True),
        sa.Column("media", sa.JSON(), nullable=True),
        sa.Column("received_at", When, nullable=False),
        sa.Column("read_at", When, nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["connect_accounts.id"],
            name=op.f("fk_connect_inbox_messages_account_id_connect_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connect_inbox_messages")),
        sa.UniqueConstraint(
            "business_message_id", name=op.f("uq_connect_inbox_messages_business_message_id")
        ),
    )
    op.create_index(
        op.f("ix_connect_inbox_messages_account_id"), "connect_inbox_messages", ["account_id"], unique=False
    )
    op.create_table(
        "connect_delivery_attempts",
        sa.Column("business_message_id", sa.String(length=200), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_attempt_at", When, nullable=False),
        sa.PrimaryKeyConstraint("business_message_id", name=op.f("pk_connect_delivery_attempts")),
    )
    op.create_table(
        "connect_events",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", When, nullable=False),
        sa.Column("delivered_at", When, nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connect_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_connect_events_event_id")),
    )
    op.create_index(
        op.f("ix_connect_events_next_attempt_at"), "connect_events", ["next_attempt_at"], unique=False
    )
    op.create_index(op.f("ix_connect_events_delivered_at"), "connect_events", ["delivered_at"], unique=False)
    op.create_table(
        "received_connect_events",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("received_at", When, nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_received_connect_events")),
    )


def downgrade() -> None:
    op.drop_table("received_connect_events")
    op.drop_index(op.f("ix_connect_events_delivered_at"), table_name="connect_events")
    op.drop_index(op.f("ix_connect_events_next_attempt_at"), table_name="connect_events")
    op.drop_table("connect_events")
    op.drop_table("connect_delivery_attempts")
    op.drop_index(op.f("ix_connect_inbox_messages_account_id"), table_name="connect_inbox_messages")
    op.drop_table("connect_inbox_messages")
    op.drop_table("connect_blocks")
    op.drop_table("connect_accounts")
