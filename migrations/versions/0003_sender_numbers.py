"""sender numbers and their OTPs

Revision ID: 0003
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tgo.models.base

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = tgo.models.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sender_numbers",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("tenant_id", BigId, nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("verification_status", sa.String(length=40), nullable=False),
        sa.Column("connect_account_id", BigId, nullable=True),
        sa.Column("otp_verified_at", When, nullable=True),
        sa.Column("account_verified_at", When, nullable=True),
        sa.Column("activated_at", When, nullable=True),
        sa.Column("status_changed_at", When, nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.Column("deleted_at", When, nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_sender_numbers_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sender_numbers")),
    )
    op.create_index("ix_sender_numbers_tenant_id", "sender_numbers", ["tenant_id"])
    op.create_index("ix_sender_numbers_phone", "sender_numbers", ["phone"])
    op.create_index(
        "uq_sender_numbers_tenant_phone_live",
        "sender_numbers",
        ["tenant_id", "phone"],
        unique=True,
        postgresql_where=sa.text("deleted_at IS NULL"),
        sqlite_where=sa.text("deleted_at IS NULL"),
    )
    op.create_table(
        "sender_otps",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("tenant_id", BigId, nullable=False),
        sa.Column("sender_number_id", BigId, nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("salt", sa.String(length=32), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("expires_at", When, nullable=False),
        sa.Column("delivered_at", When, nullable=True),
        sa.Column("delivery_failed_at", When, nullable=True),
        sa.Column("used_at", When, nullable=True),
        sa.Column("voided_at", When, nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_sender_otps_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["sender_number_id"],
            ["sender_numbers.id"],
            name=op.f("fk_sender_otps_sender_number_id_sender_numbers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sender_otps")),
    )
    op.create_index("ix_sender_otps_sender_number_id", "sender_otps", ["sender_number_id"])


def downgrade() -> None:
    op.drop_table("sender_otps")
    op.drop_table("sender_numbers")
