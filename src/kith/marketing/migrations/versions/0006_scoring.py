"""Scoring models, scores, and the community's daily activity kept for scoring and reports.

Target groups gain the kind `scoring`: the grade groups that recomputing scores keeps current.

Revision ID: m0006
Revises: m0005
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kith.db import BigId, UTCDateTime

revision: str = "m0006"
down_revision: str | None = "m0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KIND_CHECK = "ck_target_groups_kind"
KINDS_BEFORE = "kind IN ('static', 'community', 'compound')"
KINDS_AFTER = "kind IN ('static', 'community', 'compound', 'scoring')"


def upgrade() -> None:
    op.create_table(
        "community_activity_days",
        sa.Column("remote_id", sa.String(length=100), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("activity_type", sa.String(length=100), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "remote_id", "day", "activity_type", name=op.f("pk_community_activity_days")
        ),
    )
    with op.batch_alter_table("community_activity_days", schema=None) as batch_op:
        batch_op.create_index(
            "ix_community_activity_days_day", ["day", "activity_type"], unique=False
        )

    op.create_table(
        "community_members",
        sa.Column("remote_id", sa.String(length=100), nullable=False),
        sa.Column("joined_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("remote_id", name=op.f("pk_community_members")),
    )
    op.create_table(
        "activity_pulls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pulled_at", UTCDateTime(), nullable=False),
        sa.Column("since", sa.Date(), nullable=False),
        sa.Column("through", sa.Date(), nullable=False),
        sa.Column("day_rows", sa.Integer(), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_pulls")),
    )
    with op.batch_alter_table("activity_pulls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_activity_pulls_pulled_at"), ["pulled_at"])

    op.create_table(
        "scoring_models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("grades", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scoring_models")),
        sa.UniqueConstraint("version", name=op.f("uq_scoring_models_version")),
    )
    op.create_table(
        "subscriber_scores",
        sa.Column("subscriber_id", BigId, nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("grade", sa.String(length=20), nullable=True),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("computed_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_subscriber_scores_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subscriber_id", name=op.f("pk_subscriber_scores")),
    )
    with op.batch_alter_table("subscriber_scores", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subscriber_scores_grade"), ["grade"])

    _change_kinds(KINDS_BEFORE, KINDS_AFTER)


def downgrade() -> None:
    op.execute("DELETE FROM target_groups WHERE kind = 'scoring'")
    _change_kinds(KINDS_AFTER, KINDS_BEFORE)
    op.drop_table("subscriber_scores")
    op.drop_table("scoring_models")
    with op.batch_alter_table("activity_pulls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activity_pulls_pulled_at"))

    op.drop_table("activity_pulls")
    op.drop_table("community_members")
    with op.batch_alter_table("community_activity_days", schema=None) as batch_op:
        batch_op.drop_index("ix_community_activity_days_day")

    op.drop_table("community_activity_days")


def _change_kinds(before: str, after: str) -> None:
    """Replace the check on target group kinds.

    SQLite cannot alter a check, and rebuilding the table (batch mode) would empty its
    dependants: foreign keys are on, so dropping the old table runs ON DELETE CASCADE on group
    memberships and sync runs, and they cannot be switched off inside the migration's
    transaction. The check is loosened instead by SQLite's documented procedure for changes
    that leave the stored rows valid: the table's schema text is rewritten in place.
    """
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        op.drop_constraint(KIND_CHECK, "target_groups", type_="check")
        op.create_check_constraint(KIND_CHECK, "target_groups", after)
        return
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema=ON")
    changed = bind.execute(
        sa.text(
            "UPDATE sqlite_master SET sql = replace(sql, :before, :after) "
            "WHERE type = 'table' AND name = 'target_groups' AND instr(sql, :before) > 0"
        ),
        {"before": before, "after": after},
    ).rowcount
    bind.exec_driver_sql(f"PRAGMA schema_version={int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema=OFF")
    if changed != 1:
        raise RuntimeError(f"target_groups has no check {before!r} to replace")
