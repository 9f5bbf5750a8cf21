"""A community group's kept list holds each member's outcome and subscriber, so a delta decides
only the members that changed; subscribers say when their status or Remote ID last changed, so
live groups decide again the members whose subscribers changed.

Lists kept before this revision hold only the first two outcomes: they are dropped and each
group's cursor with them, so that each group's next sync reads its list in full once.

Revision ID: m0013
Revises: m0012
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "m0013"
down_revision: str | None = "m0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MIRROR_INDEXES = (
    ("ix_community_list_members_email_key", "email_key"),
    ("ix_community_list_members_legacy_key", "legacy_contact_key"),
    ("ix_community_list_members_subscriber", "subscriber_id"),
    ("ix_community_list_members_position", "position"),
)


def upgrade() -> None:
    op.execute("DELETE FROM community_list_members")
    op.execute("UPDATE target_groups SET list_cursor = NULL")
    with op.batch_alter_table("community_list_members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subscriber_id", sa.BigInteger(), nullable=True))
    for name, column in _MIRROR_INDEXES:
        op.create_index(name, "community_list_members", ["group_id", column], unique=False)
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("change_seq", sa.BigInteger(), server_default="0", nullable=False)
        )
    op.create_index("ix_subscribers_change_seq", "subscribers", ["change_seq"], unique=False)
    with op.batch_alter_table("target_groups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subscriber_changes_seen", sa.BigInteger(), nullable=True))
    changes = op.create_table(
        "subscriber_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriber_changes")),
    )
    op.bulk_insert(changes, [{"id": 1, "seq": 0}])


def downgrade() -> None:
    op.drop_table("subscriber_changes")
    with op.batch_alter_table("target_groups", schema=None) as batch_op:
        batch_op.drop_column("subscriber_changes_seen")
    op.drop_index("ix_subscribers_change_seq", table_name="subscribers")
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_column("change_seq")
    for name, _ in _MIRROR_INDEXES:
        op.drop_index(name, table_name="community_list_members")
    with op.batch_alter_table("community_list_members", schema=None) as batch_op:
        batch_op.drop_column("subscriber_id")
