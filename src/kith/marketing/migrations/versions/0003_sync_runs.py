"""Sync runs and skipped members of community groups, job workers, community Personalizations.

Revision ID: m0003
Revises: m0002
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kith.db import BigId, UTCDateTime

revision: str = "m0003"
down_revision: str | None = "m0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_workers",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("seen_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_job_workers")),
    )
    op.create_table(
        "sync_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("list_key", sa.String(length=100), nullable=False),
        sa.Column("edition", sa.String(length=20), nullable=False),
        sa.Column("allow_empty", sa.Boolean(), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("heartbeat_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("in_list", sa.Integer(), nullable=True),
        sa.Column("members", sa.Integer(), nullable=True),
        sa.Column("added", sa.Integer(), nullable=True),
        sa.Column("removed", sa.Integer(), nullable=True),
        sa.Column("unchanged", sa.Integer(), nullable=True),
        sa.Column("created", sa.Integer(), nullable=True),
        sa.Column("linked", sa.Integer(), nullable=True),
        sa.Column("skipped", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["target_groups.id"],
            name=op.f("fk_sync_runs_group_id_target_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_runs")),
    )
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sync_runs_group_requested", ["group_id", "requested_at"], unique=False
        )
        batch_op.create_index(
            "uq_sync_runs_group_in_progress",
            ["group_id"],
            unique=True,
            sqlite_where=sa.text("status = 'in progress'"),
            postgresql_where=sa.text("status = 'in progress'"),
        )

    op.create_table(
        "sync_skips",
        sa.Column("id", BigId, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("contact_key", sa.String(length=100), nullable=True),
        sa.Column("legacy_contact_key", sa.String(length=100), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("reason", sa.String(length=30), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["target_groups.id"],
            name=op.f("fk_sync_skips_group_id_target_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["sync_runs.id"],
            name=op.f("fk_sync_skips_run_id_sync_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_skips")),
    )
    with op.batch_alter_table("sync_skips", schema=None) as batch_op:
        batch_op.create_index("ix_sync_skips_group_reason", ["group_id", "reason"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_sync_skips_recorded_at"), ["recorded_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_sync_skips_run_id"), ["run_id"], unique=False)

    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("community", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_column("community")

    with op.batch_alter_table("sync_skips", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_skips_run_id"))
        batch_op.drop_index(batch_op.f("ix_sync_skips_recorded_at"))
        batch_op.drop_index("ix_sync_skips_group_reason")

    op.drop_table("sync_skips")
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_sync_runs_group_in_progress",
            sqlite_where=sa.text("status = 'in progress'"),
            postgresql_where=sa.text("status = 'in progress'"),
        )
        batch_op.drop_index("ix_sync_runs_group_requested")

    op.drop_table("sync_runs")
    op.drop_table("job_workers")
