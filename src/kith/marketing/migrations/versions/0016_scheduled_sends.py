"""A mailing can be scheduled to send at a time (`scheduled_for`, UTC), and a send can leave out
the recipients a community automation rule also e-mails (`leave_out_duplicates`).

Revision ID: m0016
Revises: m0015
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kith.db import UTCDateTime

revision: str = "m0016"
down_revision: str | None = "m0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("mailings") as batch:
        batch.add_column(sa.Column("scheduled_for", UTCDateTime(), nullable=True))
        batch.add_column(
            sa.Column(
                "leave_out_duplicates", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch.create_index("ix_mailings_status_scheduled_for", ["status", "scheduled_for"])


def downgrade() -> None:
    with op.batch_alter_table("mailings") as batch:
        batch.drop_index("ix_mailings_status_scheduled_for")
        batch.drop_column("leave_out_duplicates")
        batch.drop_column("scheduled_for")
