"""Subscribers erased at a person's request are recorded without their data, and remembered
by a keyed digest of their email and Remote ID so that a sync does not create them again.

Revision ID: m0012
Revises: m0011
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kith.db import UTCDateTime

revision: str = "m0012"
down_revision: str | None = "m0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "erasures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("side", sa.String(20), nullable=False),
        sa.Column("erased_by", sa.String(320), nullable=False),
        sa.Column("erased_at", UTCDateTime(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_erasures"),
    )
    op.create_table(
        "erased_people",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("erasure_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["erasure_id"], ["erasures.id"], name="fk_erased_people_erasure_id_erasures"
        ),
        sa.PrimaryKeyConstraint("digest", name="pk_erased_people"),
    )
    op.create_index("ix_erased_people_erasure_id", "erased_people", ["erasure_id"])


def downgrade() -> None:
    op.drop_index("ix_erased_people_erasure_id", table_name="erased_people")
    op.drop_table("erased_people")
    op.drop_table("erasures")
