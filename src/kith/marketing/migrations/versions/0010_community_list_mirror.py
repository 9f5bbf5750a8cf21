"""Each community group keeps its list as last synced and the cursor of its change log, so a
delta sync applies only the changes after it; runs say whether they were full or delta.

Revision ID: m0010
Revises: m0009
Create Date: 2026-12-14
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "m0010"
down_revision: str | None = "m0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "community_list_members",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("contact_key", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("legacy_contact_key", sa.String(length=100), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("email_key", sa.String(length=320), nullable=True),
        sa.Column("outcome", sa.String(length=30), nullable=True),
        sa.Column("normal_email", sa.String(length=320), nullable=True),
        sa.Column("normal_key", sa.String(length=320), nullable=True),
        sa.Column("first_name", sa.String(length=200), nullable=True),
        sa.Column("last_name", sa.String(length=200), nullable=True),
        sa.Column("profile", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["target_groups.id"],
            name=op.f("fk_community_list_members_group_id_target_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "contact_key", name=op.f("pk_community_list_members")),
    )
    with op.batch_alter_table("target_groups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("list_cursor", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("mode", sa.String(length=10), server_default="full", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.drop_column("mode")
    with op.batch_alter_table("target_groups", schema=None) as batch_op:
        batch_op.drop_column("list_cursor")
    op.drop_table("community_list_members")
