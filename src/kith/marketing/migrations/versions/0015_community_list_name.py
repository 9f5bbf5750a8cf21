"""A community group keeps its list's name as the last Refresh Target Group List read it, so
Info can show the list by name rather than by key.

Revision ID: m0015
Revises: m0014
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "m0015"
down_revision: str | None = "m0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("target_groups") as batch:
        batch.add_column(sa.Column("list_name", sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("target_groups") as batch:
        batch.drop_column("list_name")
