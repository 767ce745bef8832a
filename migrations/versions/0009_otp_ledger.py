"""otp ledger: OTP sends, wrong codes and lockouts per phone (with tenant), and a per-phone lock row

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tgo.models.base

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = tgo.models.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    # No foreign key to tenants or sender numbers: the limits must outlive a deleted number or tenant.
    op.create_table(
        "otp_events",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("tenant_id", BigId, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("otp_id", BigId, nullable=True),
        sa.Column("delivery_failed_at", When, nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_otp_events")),
    )
    op.create_index("ix_otp_events_phone_kind_created", "otp_events", ["phone", "kind", "created_at"])
    op.create_table(
        "otp_phones",
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("touched_at", When, nullable=False),
        sa.PrimaryKeyConstraint("phone", name=op.f("pk_otp_phones")),
    )


def downgrade() -> None:
    op.drop_table("otp_phones")
    op.drop_index("ix_otp_events_phone_kind_created", table_name="otp_events")
    op.drop_table("otp_events")
