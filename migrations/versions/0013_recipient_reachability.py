"""The reachability directory (issue 15 item 3): the Business side's recipient_reachability table, and the
per-account version Connect bumps with every change of what decides reachability

Revision ID: 0013
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tgo.models.base import UTCDateTime

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "recipient_reachability",
        sa.Column("phone", sa.String(20), primary_key=True),
        sa.Column("recipient_id", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("phone_verified_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("account_verified", sa.Boolean(), nullable=False),
        sa.Column("blocked_senders", sa.JSON(), nullable=False),
        sa.Column("in_sequence", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("connect_accounts") as batch:
        batch.add_column(sa.Column("reachability_version", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("connect_accounts") as batch:
        batch.drop_column("reachability_version")
    op.drop_table("recipient_reachability")
