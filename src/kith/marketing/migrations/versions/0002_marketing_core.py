"""Marketing tables: subscribers, folders, target groups, Integration Settings, API tokens.

Revision ID: m0002
Revises: m0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from kith.db import BigId, UTCDateTime
from kith.marketing.models import MAIN_FOLDER

revision: str = "m0002"
down_revision: str | None = "m0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_api_tokens_token_digest")),
    )
    folders = op.create_table(
        "folders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_folders")),
        sa.UniqueConstraint("name", name=op.f("uq_folders_name")),
    )
    op.bulk_insert(folders, [{"name": MAIN_FOLDER, "created_at": datetime.now(UTC)}])
    op.create_table(
        "integration_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=False),
        sa.Column("iam_key", sa.String(length=200), nullable=False),
        sa.Column("password_encrypted", sa.Text(), nullable=False),
        sa.Column("edition", sa.String(length=20), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integration_settings")),
    )
    op.create_table(
        "subscribers",
        sa.Column("id", BigId, nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("email_key", sa.String(length=320), nullable=False),
        sa.Column("remote_id", sa.String(length=100), nullable=True),
        sa.Column("first_name", sa.String(length=200), nullable=True),
        sa.Column("last_name", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('subscribed', 'unsubscribed', 'bounced')", name="ck_subscribers_status"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscribers")),
        sa.UniqueConstraint("remote_id", name=op.f("uq_subscribers_remote_id")),
    )
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subscribers_email_key"), ["email_key"], unique=False)
        batch_op.create_index(
            "uq_subscribers_email_key_without_remote_id",
            ["email_key"],
            unique=True,
            sqlite_where=sa.text("remote_id IS NULL"),
            postgresql_where=sa.text("remote_id IS NULL"),
        )

    op.create_table(
        "target_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_key", sa.String(length=200), nullable=False),
        sa.Column("folder_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("include_mode", sa.String(length=3), nullable=True),
        sa.Column("exclude_mode", sa.String(length=3), nullable=True),
        sa.Column("list_key", sa.String(length=100), nullable=True),
        sa.Column("source_removed_at", UTCDateTime(), nullable=True),
        sa.Column("last_synced_at", UTCDateTime(), nullable=True),
        sa.Column("sync_status", sa.String(length=20), nullable=True),
        sa.Column("sync_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('static', 'community', 'compound')", name="ck_target_groups_kind"
        ),
        sa.ForeignKeyConstraint(
            ["folder_id"], ["folders.id"], name=op.f("fk_target_groups_folder_id_folders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_target_groups")),
        sa.UniqueConstraint("list_key", name=op.f("uq_target_groups_list_key")),
        sa.UniqueConstraint("name_key", name=op.f("uq_target_groups_name_key")),
    )
    with op.batch_alter_table("target_groups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_target_groups_folder_id"), ["folder_id"], unique=False)

    op.create_table(
        "compound_parts",
        sa.Column("compound_id", sa.Integer(), nullable=False),
        sa.Column("section", sa.String(length=7), nullable=False),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["compound_id"],
            ["target_groups.id"],
            name=op.f("fk_compound_parts_compound_id_target_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["part_id"], ["target_groups.id"], name=op.f("fk_compound_parts_part_id_target_groups")
        ),
        sa.PrimaryKeyConstraint(
            "compound_id", "section", "part_id", name=op.f("pk_compound_parts")
        ),
    )
    with op.batch_alter_table("compound_parts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_compound_parts_part_id"), ["part_id"], unique=False)

    op.create_table(
        "group_members",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", BigId, nullable=False),
        sa.Column("added_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["target_groups.id"],
            name=op.f("fk_group_members_group_id_target_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_group_members_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "subscriber_id", name=op.f("pk_group_members")),
    )
    with op.batch_alter_table("group_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_group_members_subscriber_id"), ["subscriber_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("group_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_group_members_subscriber_id"))

    op.drop_table("group_members")
    with op.batch_alter_table("compound_parts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_compound_parts_part_id"))

    op.drop_table("compound_parts")
    with op.batch_alter_table("target_groups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_target_groups_folder_id"))

    op.drop_table("target_groups")
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_subscribers_email_key_without_remote_id",
            sqlite_where=sa.text("remote_id IS NULL"),
            postgresql_where=sa.text("remote_id IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_subscribers_email_key"))

    op.drop_table("subscribers")
    op.drop_table("integration_settings")
    op.drop_table("folders")
    op.drop_table("api_tokens")
