"""The kept list says which members may share their email with another, so that a delta looks
for those sharing a changed member's email only when there may be some.

Revision ID: m0019
Revises: m0018
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "m0019"
down_revision: str | None = "m0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("community_list_members", "community_list_recent")


def upgrade() -> None:
    for table in TABLES:
        # rows kept before: not known, so looked for (as every row was until now)
        op.add_column(
            table,
            sa.Column("email_shared", sa.Boolean(), server_default=sa.true(), nullable=False),
        )


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("email_shared")
