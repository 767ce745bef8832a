"""messages: (tenant_id, queued_at, id) index for the log's since/until filter

Revision ID: 0007
Revises: 0004
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Without it a one-week since/until page walks the tenant's newer rows by id until it reaches the week.
    op.create_index("ix_messages_tenant_queued_id", "messages", ["tenant_id", "queued_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_messages_tenant_queued_id", table_name="messages")
