"""users: language_chosen (the language was picked on purpose, not defaulted) and time_zone (the profile's
IANA zone for dashboard times; NULL follows the browser's)

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("language_chosen", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("time_zone", sa.String(64), nullable=True))
    # A language other than the default was set on purpose (`tgo user create --lang ar`, the switch).
    op.execute(sa.text("UPDATE users SET language_chosen = :yes WHERE language <> 'en'").bindparams(yes=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("time_zone")
        batch.drop_column("language_chosen")
