"""The bounce intake: each message received kept whole, what it reported about whom, and every
subscriber's status changes with their evidence.

Revision ID: m0011
Revises: m0010
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kith.db import UTCDateTime

revision: str = "m0011"
down_revision: str | None = "m0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "bounce_messages",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("envelope_recipients", sa.JSON(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=True),
        sa.Column("how", sa.String(length=20), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.SmallInteger(), nullable=False),
        sa.Column("processed_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bounce_messages")),
        sa.UniqueConstraint("digest", name=op.f("uq_bounce_messages_digest")),
    )
    with op.batch_alter_table("bounce_messages", schema=None) as batch_op:
        batch_op.create_index("ix_bounce_messages_status", ["status", "id"], unique=False)

    op.create_table(
        "bounces",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("message_id", BIG_ID, nullable=False),
        sa.Column("subscriber_id", BIG_ID, nullable=True),
        sa.Column("mailing_id", sa.Integer(), nullable=True),
        sa.Column("delivery_id", BIG_ID, nullable=True),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("status_code", sa.String(length=32), nullable=True),
        sa.Column("diagnostic", sa.Text(), nullable=True),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_bounces_delivery_id_deliveries"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["mailing_id"],
            ["mailings.id"],
            name=op.f("fk_bounces_mailing_id_mailings"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["bounce_messages.id"],
            name=op.f("fk_bounces_message_id_bounce_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_bounces_subscriber_id_subscribers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bounces")),
    )
    with op.batch_alter_table("bounces", schema=None) as batch_op:
        batch_op.create_index("ix_bounces_mailing", ["mailing_id", "kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_bounces_message_id"), ["message_id"], unique=False)
        batch_op.create_index(
            "ix_bounces_subscriber_kind", ["subscriber_id", "kind", "occurred_at"], unique=False
        )

    op.create_table(
        "subscriber_status_changes",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("subscriber_id", BIG_ID, nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=False),
        sa.Column("to_status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("bounce_id", BIG_ID, nullable=True),
        sa.Column("changed_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bounce_id"],
            ["bounces.id"],
            name=op.f("fk_subscriber_status_changes_bounce_id_bounces"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_subscriber_status_changes_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriber_status_changes")),
    )
    with op.batch_alter_table("subscriber_status_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subscriber_status_changes_bounce_id"), ["bounce_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_subscriber_status_changes_subscriber_id"),
            ["subscriber_id"],
            unique=False,
        )
    op.create_table(
        "bounce_mailbox_settings",
        sa.Column("id", sa.SmallInteger(), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("password_encrypted", sa.Text(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bounce_mailbox_settings")),
    )


def downgrade() -> None:
    op.drop_table("bounce_mailbox_settings")
    with op.batch_alter_table("subscriber_status_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscriber_status_changes_subscriber_id"))
        batch_op.drop_index(batch_op.f("ix_subscriber_status_changes_bounce_id"))

    op.drop_table("subscriber_status_changes")
    with op.batch_alter_table("bounces", schema=None) as batch_op:
        batch_op.drop_index("ix_bounces_subscriber_kind")
        batch_op.drop_index(batch_op.f("ix_bounces_message_id"))
        batch_op.drop_index("ix_bounces_mailing")

    op.drop_table("bounces")
    with op.batch_alter_table("bounce_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_bounce_messages_status")

    op.drop_table("bounce_messages")
