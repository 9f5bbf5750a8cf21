"""A community group can be switched from live to manual; a drift check's run records how far
the live membership had drifted from a full read.

Revision ID: m0014
Revises: m0013
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "m0014"
down_revision: str | None = "m0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("target_groups", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("live", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("drift", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.drop_column("drift")
    with op.batch_alter_table("target_groups", schema=None) as batch_op:
        batch_op.drop_column("live")
