"""Campaigns, their steps and versions, enrollments, and the scheduler's due work.

Revision ID: m0005
Revises: m0004
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kith.db import BigId, UTCDateTime

revision: str = "m0005"
down_revision: str | None = "m0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("activation_group_id", sa.Integer(), nullable=False),
        sa.Column("activation_mode", sa.String(length=10), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=True),
        sa.Column("stops_at", UTCDateTime(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=True),
        sa.Column("activated_at", UTCDateTime(), nullable=True),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "activation_mode IN ('at_once', 'over_time', 'both')",
            name="ck_campaigns_activation_mode",
        ),
        sa.CheckConstraint(
            "status IN ('inactive', 'active', 'finished')", name="ck_campaigns_status"
        ),
        sa.ForeignKeyConstraint(
            ["activation_group_id"],
            ["target_groups.id"],
            name=op.f("fk_campaigns_activation_group_id_target_groups"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        sa.UniqueConstraint("name", name=op.f("uq_campaigns_name")),
    )
    op.create_index(op.f("ix_campaigns_activation_group_id"), "campaigns", ["activation_group_id"])
    op.create_table(
        "campaign_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("first_step", sa.String(length=100), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_versions_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_versions")),
        sa.UniqueConstraint(
            "campaign_id", "number", name=op.f("uq_campaign_versions_campaign_id_number")
        ),
    )
    op.create_table(
        "campaign_enrollments",
        sa.Column("id", BigId, nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", BigId, nullable=True),
        sa.Column("email_key", sa.String(length=320), nullable=False),
        sa.Column("status", sa.String(length=6), nullable=False),
        sa.Column("step", sa.String(length=100), nullable=True),
        sa.Column("reached_at", UTCDateTime(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=True),
        sa.Column("enrolled_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint("status IN ('active', 'done')", name="ck_campaign_enrollments_status"),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_enrollments_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["campaign_versions.id"],
            name=op.f("fk_campaign_enrollments_version_id_campaign_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_campaign_enrollments_subscriber_id_subscribers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_enrollments")),
        sa.UniqueConstraint(
            "campaign_id", "email_key", name=op.f("uq_campaign_enrollments_campaign_id_email_key")
        ),
    )
    op.create_index(
        "ix_campaign_enrollments_due",
        "campaign_enrollments",
        ["status", "version_id", "step", "due_at"],
    )
    op.create_index(
        op.f("ix_campaign_enrollments_subscriber_id"), "campaign_enrollments", ["subscriber_id"]
    )
    op.create_table(
        "campaign_step_outcomes",
        sa.Column("enrollment_id", BigId, nullable=False),
        sa.Column("step", sa.String(length=100), nullable=False),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["enrollment_id"],
            ["campaign_enrollments.id"],
            name=op.f("fk_campaign_step_outcomes_enrollment_id_campaign_enrollments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("enrollment_id", "step", name=op.f("pk_campaign_step_outcomes")),
    )
    op.create_table(
        "campaign_baselines",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_baselines_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_campaign_baselines_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "subscriber_id", name=op.f("pk_campaign_baselines")),
    )
    op.create_table(
        "campaign_notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=100), nullable=False),
        sa.Column("to_address", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_notifications_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_notifications")),
    )
    op.create_index(
        op.f("ix_campaign_notifications_sent_at"), "campaign_notifications", ["sent_at"]
    )
    op.create_table(
        "hourly_syncs",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("slot_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("done_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["target_groups.id"],
            name=op.f("fk_hourly_syncs_group_id_target_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "slot_at", name=op.f("pk_hourly_syncs")),
    )
    op.create_table(
        "scheduler_leases",
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("until", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scheduler_leases")),
    )


def downgrade() -> None:
    for table in (
        "scheduler_leases",
        "hourly_syncs",
        "campaign_notifications",
        "campaign_baselines",
        "campaign_step_outcomes",
        "campaign_enrollments",
        "campaign_versions",
        "campaigns",
    ):
        op.drop_table(table)
