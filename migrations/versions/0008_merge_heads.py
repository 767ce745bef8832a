"""merge the per-part heads into one line

Revision ID: 0008
Revises: 0002, 0005, 0006, 0007

The parts' revisions branched from the foundation (0002 Connect, 0005 SMS, 0006 webhooks, 0007 messages); from
here on the history is one line and every new revision follows the previous one.
"""

from collections.abc import Sequence

revision: str = "0008"
down_revision: str | Sequence[str] | None = ("0002", "0005", "0006", "0007")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
