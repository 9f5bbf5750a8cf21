"""Wrong passwords counted per client address and login (issue 21), not on the login itself.

Counted on the login, they let whoever knew a marketer's email lock the marketer out. The old
counts are dropped: they describe at most one lock (five minutes).

Revision ID: m0008
Revises: m0007
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kith.db import UTCDateTime

revision: str = "m0008"
down_revision: str | None = "m0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sign_in_failures",
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("source", "subject", name="pk_sign_in_failures"),
    )
    op.create_index(
        "ix_sign_in_failures_window_started_at", "sign_in_failures", ["window_started_at"]
    )
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.drop_column("failed_sign_ins")
        batch_op.drop_column("locked_until")


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.add_column(
            sa.Column("failed_sign_ins", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("locked_until", UTCDateTime(), nullable=True))
    op.drop_table("sign_in_failures")
