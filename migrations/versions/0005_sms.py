"""sms: sender identities, messages and their SMSC parts

Revision ID: 0005
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tgo.models.base

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = tgo.models.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sms_senders",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", BigId, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("sender_id", sa.String(length=20), nullable=False),
        sa.Column("sender_type", sa.String(length=20), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("default_message_type", sa.String(length=20), nullable=False),
        sa.Column("transactional_only", sa.Boolean(), nullable=False),
        sa.Column("rejection_reason", sa.Text(), nullable=True),
        sa.Column("verification_due_at", When, nullable=True),
        sa.Column("verified_at", When, nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_sms_senders_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_senders")),
        sa.UniqueConstraint(
            "tenant_id", "sender_type", "sender_id", "country", name="uq_sms_senders_identity"
        ),
    )
    op.create_index("ix_sms_senders_tenant_created", "sms_senders", ["tenant_id", "created_at", "id"])
    op.create_index("ix_sms_senders_status_due", "sms_senders", ["status", "verification_due_at"])

    op.create_table(
        "sms_messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", BigId, nullable=False),
        sa.Column("sender_id", sa.Uuid(), nullable=False),
        sa.Column("to", sa.String(length=20), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("message_type", sa.String(length=20), nullable=False),
        sa.Column("encoding", sa.String(length=10), nullable=False),
        sa.Column("segments", sa.Integer(), nullable=False),
        sa.Column("characters", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("concat_ref", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", When, nullable=True),
        sa.Column("claimed_until", When, nullable=True),
        sa.Column("error_code", sa.String(length=40), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("sent_at", When, nullable=True),
        sa.Column("done_at", When, nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_sms_messages_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["sender_id"],
            ["sms_senders.id"],
            name=op.f("fk_sms_messages_sender_id_sms_senders"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_messages")),
    )
    op.create_index("ix_sms_messages_tenant_created", "sms_messages", ["tenant_id", "created_at", "id"])
    op.create_index("ix_sms_messages_status_next", "sms_messages", ["status", "next_attempt_at"])
    op.create_index(op.f("ix_sms_messages_sender_id"), "sms_messages", ["sender_id"])

    op.create_table(
        "sms_message_parts",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("part_number", sa.Integer(), nullable=False),
        sa.Column("smsc_message_id", sa.String(length=80), nullable=False),
        sa.Column("receipt_state", sa.String(length=20), nullable=True),
        sa.Column("receipt_error", sa.String(length=20), nullable=True),
        sa.Column("submitted_at", When, nullable=False),
        sa.Column("receipt_at", When, nullable=True),
        sa.Column("extra", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["sms_messages.id"],
            name=op.f("fk_sms_message_parts_message_id_sms_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_message_parts")),
        sa.UniqueConstraint("message_id", "part_number", name="uq_sms_message_parts_part"),
    )
    op.create_index(op.f("ix_sms_message_parts_message_id"), "sms_message_parts", ["message_id"])
    op.create_index(op.f("ix_sms_message_parts_smsc_message_id"), "sms_message_parts", ["smsc_message_id"])


def downgrade() -> None:
    op.drop_table("sms_message_parts")
    op.drop_table("sms_messages")
    op.drop_table("sms_senders")
