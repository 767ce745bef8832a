"""messages, media, status history, idempotency keys, usage counters

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tgo.models.base

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = tgo.models.base.UTCDateTime(timezone=True)


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], name=f"fk_{table}_tenant_id_tenants", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "media",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("tenant_id", BigId, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("content_type", sa.String(120), nullable=False),
        sa.Column("size", BigId, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("filename", sa.String(255), nullable=True),
        sa.Column("storage_key", sa.String(255), nullable=False),
        sa.Column("created_at", When, nullable=False),
        _tenant_fk("media"),
        sa.PrimaryKeyConstraint("id", name="pk_media"),
    )
    op.create_index("ix_media_tenant_id", "media", ["tenant_id"])
    op.create_table(
        "messages",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("tenant_id", BigId, nullable=False),
        sa.Column("sender_number_id", BigId, nullable=False),
        sa.Column("sender_phone", sa.String(20), nullable=False),
        sa.Column("to_phone", sa.String(20), nullable=False),
        sa.Column("message_type", sa.String(16), nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("caption", sa.Text(), nullable=True),
        sa.Column("media_id", BigId, nullable=True),
        sa.Column("duration", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("failure_code", sa.String(40), nullable=True),
        sa.Column("failure_reason", sa.String(500), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", When, nullable=False),
        sa.Column("claimed_until", When, nullable=True),
        sa.Column("connect_message_id", BigId, nullable=True),
        sa.Column("queued_at", When, nullable=False),
        sa.Column("sent_at", When, nullable=True),
        sa.Column("delivered_at", When, nullable=True),
        sa.Column("read_at", When, nullable=True),
        sa.Column("failed_at", When, nullable=True),
        sa.Column("updated_at", When, nullable=False),
        _tenant_fk("messages"),
        sa.ForeignKeyConstraint(
            ["sender_number_id"], ["sender_numbers.id"], name="fk_messages_sender_number_id_sender_numbers"
        ),
        sa.ForeignKeyConstraint(["media_id"], ["media.id"], name="fk_messages_media_id_media"),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
    )
    op.create_index("ix_messages_tenant_id_id", "messages", ["tenant_id", "id"])
    op.create_index("ix_messages_tenant_status_id", "messages", ["tenant_id", "status", "id"])
    op.create_index("ix_messages_tenant_sender_id", "messages", ["tenant_id", "sender_number_id", "id"])
    op.create_index("ix_messages_tenant_to_id", "messages", ["tenant_id", "to_phone", "id"])
    op.create_index("ix_messages_status_next_attempt", "messages", ["status", "next_attempt_at"])
    op.create_table(
        "message_status_events",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("message_id", BigId, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("at", When, nullable=False),
        sa.Column("detail", sa.String(500), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name="fk_message_status_events_message_id_messages",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_message_status_events"),
    )
    op.create_index("ix_message_status_events_message_id", "message_status_events", ["message_id"])
    op.create_table(
        "idempotency_keys",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("tenant_id", BigId, nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.Column("locked_until", When, nullable=True),
        _tenant_fk("idempotency_keys"),
        sa.PrimaryKeyConstraint("id", name="pk_idempotency_keys"),
        sa.UniqueConstraint("tenant_id", "key", name="uq_idempotency_keys_tenant_id"),
    )
    op.create_table(
        "usage_counters",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("tenant_id", BigId, nullable=False),
        sa.Column("sender_number_id", BigId, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("message_type", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("count", BigId, nullable=False),
        _tenant_fk("usage_counters"),
        sa.PrimaryKeyConstraint("id", name="pk_usage_counters"),
        sa.UniqueConstraint(
            "tenant_id",
            "sender_number_id",
            "day",
            "message_type",
            "status",
            "shard",
            name="uq_usage_counters_tenant_id",
        ),
    )
    op.create_index("ix_usage_counters_tenant_day", "usage_counters", ["tenant_id", "day"])


def downgrade() -> None:
    for table in ("usage_counters", "idempotency_keys", "message_status_events", "messages", "media"):
        op.drop_table(table)
