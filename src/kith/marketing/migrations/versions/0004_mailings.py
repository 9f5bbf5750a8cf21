"""Mailings, their groups, deliveries (one per address), delivery events, SMTP settings.

Revision ID: m0004
Revises: m0003
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kith.db import BigId, UTCDateTime

revision: str = "m0004"
down_revision: str | None = "m0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mailings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("from_name", sa.String(length=200), nullable=True),
        sa.Column("from_address", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("allow_stale", sa.Boolean(), nullable=False),
        sa.Column("ack_duplicates", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("send_requested_at", UTCDateTime(), nullable=True),
        sa.Column("prepared_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("skipped_malformed", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailings")),
    )
    op.create_table(
        "smtp_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=255), nullable=True),
        sa.Column("password_encrypted", sa.Text(), nullable=True),
        sa.Column("tls", sa.String(length=10), nullable=False),
        sa.Column("connections", sa.SmallInteger(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_smtp_settings")),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", BigId, nullable=False),
        sa.Column("mailing_id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", BigId, nullable=True),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("email_key", sa.String(length=320), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.SmallInteger(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("message_id", sa.String(length=200), nullable=True),
        sa.Column("claimed_at", UTCDateTime(), nullable=True),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["mailing_id"],
            ["mailings.id"],
            name=op.f("fk_deliveries_mailing_id_mailings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_deliveries_subscriber_id_subscribers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("mailing_id", "email_key", name="uq_deliveries_mailing_id_email_key"),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_deliveries_mailing_status", ["mailing_id", "status"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_deliveries_subscriber_id"), ["subscriber_id"], unique=False
        )

    op.create_table(
        "delivery_events",
        sa.Column("id", BigId, nullable=False),
        sa.Column("delivery_id", BigId, nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_delivery_events_delivery_id_deliveries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_events")),
    )
    with op.batch_alter_table("delivery_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_delivery_events_delivery_id"), ["delivery_id"], unique=False
        )

    op.create_table(
        "mailing_groups",
        sa.Column("mailing_id", sa.Integer(), nullable=False),
        sa.Column("section", sa.String(length=7), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["target_groups.id"],
            name=op.f("fk_mailing_groups_group_id_target_groups"),
        ),
        sa.ForeignKeyConstraint(
            ["mailing_id"],
            ["mailings.id"],
            name=op.f("fk_mailing_groups_mailing_id_mailings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "mailing_id", "section", "group_id", name=op.f("pk_mailing_groups")
        ),
    )
    with op.batch_alter_table("mailing_groups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mailing_groups_group_id"), ["group_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("mailing_groups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mailing_groups_group_id"))

    op.drop_table("mailing_groups")
    with op.batch_alter_table("delivery_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delivery_events_delivery_id"))

    op.drop_table("delivery_events")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliveries_subscriber_id"))
        batch_op.drop_index("ix_deliveries_mailing_status")

    op.drop_table("deliveries")
    op.drop_table("smtp_settings")
    op.drop_table("mailings")
