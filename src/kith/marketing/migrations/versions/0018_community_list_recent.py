"""A delta sync keeps the rows it decides in a table of their own, which stand in for the same
members' rows of the group's kept list until the next full sync keeps the list anew.

Revision ID: m0018
Revises: m0017
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "m0018"
down_revision: str | None = "m0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "community_list_recent"
_INDEXES = (
    ("email_key", "email_key"),
    ("legacy_key", "legacy_contact_key"),
    ("subscriber", "subscriber_id"),
    ("position", "position"),
)


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("gone", sa.Boolean(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("contact_key", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("legacy_contact_key", sa.String(length=100), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("email_key", sa.String(length=320), nullable=True),
        sa.Column("outcome", sa.String(length=30), nullable=True),
        sa.Column("subscriber_id", sa.BigInteger(), nullable=True),
        sa.Column("normal_email", sa.String(length=320), nullable=True),
        sa.Column("normal_key", sa.String(length=320), nullable=True),
        sa.Column("first_name", sa.String(length=200), nullable=True),
        sa.Column("last_name", sa.String(length=200), nullable=True),
        sa.Column("profile", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["target_groups.id"],
            name=op.f("fk_community_list_recent_group_id_target_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "contact_key", name=op.f("pk_community_list_recent")),
    )
    for name, column in _INDEXES:
        op.create_index(f"ix_{TABLE}_{name}", TABLE, ["group_id", column], unique=False)


def downgrade() -> None:
    op.drop_table(TABLE)
