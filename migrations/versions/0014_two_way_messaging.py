"""two-way messaging (issue 18): messages gain direction, from_phone and received_at; conversations, the
opt-out list and its settings; Connect's link table, the messages its accounts write and their files

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tgo.models.base

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "connect_links",
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("linked_at", tgo.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("phone", name=op.f("pk_connect_links")),
    )
    op.create_table(
        "connect_media",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("content_type", sa.String(length=120), nullable=False),
        sa.Column("size", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", tgo.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connect_media")),
    )
    op.create_table(
        "connect_sent_messages",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("from_phone", sa.String(length=20), nullable=False),
        sa.Column("to_phone", sa.String(length=20), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("caption", sa.Text(), nullable=True),
        sa.Column("media_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("sent_at", tgo.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["connect_accounts.id"],
            name=op.f("fk_connect_sent_messages_account_id_connect_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["media_id"], ["connect_media.id"], name=op.f("fk_connect_sent_messages_media_id_connect_media")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connect_sent_messages")),
    )
    with op.batch_alter_table("connect_sent_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_connect_sent_messages_account_id"), ["account_id"], unique=False)

    op.create_table(
        "opt_out_settings",
        sa.Column("tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("confirmations", sa.Boolean(), nullable=False),
        sa.Column("help_text", sa.Text(), nullable=True),
        sa.Column("updated_at", tgo.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_opt_out_settings_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_opt_out_settings")),
    )
    op.create_table(
        "opt_outs",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("created_at", tgo.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_opt_outs_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opt_outs")),
        sa.UniqueConstraint("tenant_id", "channel", "phone", name=op.f("uq_opt_outs_tenant_id")),
    )
    op.create_table(
        "conversations",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sender_number_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("contact_phone", sa.String(length=20), nullable=False),
        sa.Column("last_message_at", tgo.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_inbound_at", tgo.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("unread_count", sa.Integer(), nullable=False),
        sa.Column("created_at", tgo.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["sender_number_id"],
            ["sender_numbers.id"],
            name=op.f("fk_conversations_sender_number_id_sender_numbers"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_conversations_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversations")),
        sa.UniqueConstraint(
            "tenant_id", "sender_number_id", "contact_phone", name=op.f("uq_conversations_tenant_id")
        ),
    )
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_conversations_tenant_last", ["tenant_id", "last_message_at", "id"], unique=False
        )

    op.create_table(
        "sms_inbound_messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sender_id", sa.Uuid(), nullable=False),
        sa.Column("from_phone", sa.String(length=20), nullable=False),
        sa.Column("to", sa.String(length=20), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("encoding", sa.String(length=10), nullable=False),
        sa.Column("segments", sa.Integer(), nullable=False),
        sa.Column("characters", sa.Integer(), nullable=False),
        sa.Column("received_at", tgo.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["sender_id"],
            ["sms_senders.id"],
            name=op.f("fk_sms_inbound_messages_sender_id_sms_senders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_sms_inbound_messages_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_inbound_messages")),
    )
    op.create_index(
        "ix_sms_inbound_tenant_received", "sms_inbound_messages", ["tenant_id", "received_at", "id"]
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("direction", sa.String(length=8), server_default="outbound", nullable=False)
        )
        batch_op.add_column(sa.Column("from_phone", sa.String(length=20), nullable=True))
        batch_op.add_column(
            sa.Column("received_at", tgo.models.base.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("received_at")
        batch_op.drop_column("from_phone")
        batch_op.drop_column("direction")

    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index("ix_conversations_tenant_last")

    op.drop_index("ix_sms_inbound_tenant_received", table_name="sms_inbound_messages")
    op.drop_table("sms_inbound_messages")
    op.drop_table("conversations")
    op.drop_table("opt_outs")
    op.drop_table("opt_out_settings")
    with op.batch_alter_table("connect_sent_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_connect_sent_messages_account_id"))

    op.drop_table("connect_sent_messages")
    op.drop_table("connect_media")
    op.drop_table("connect_links")
