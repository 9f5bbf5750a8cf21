"""Community tables: members, communities, activity, List Builder lists, API credentials.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kith.community.models import BUILTIN_ACTIVITY_TYPES
from kith.db import UTCDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    activity_types = op.create_table(
        "activity_types",
        sa.Column("id", sa.SmallInteger(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("builtin", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_activity_types"),
        sa.UniqueConstraint("name", name="uq_activity_types_name"),
    )
    op.bulk_insert(
        activity_types,
        [
            {"id": number, "name": name, "builtin": True}
            for number, name in enumerate(BUILTIN_ACTIVITY_TYPES, start=1)
        ],
    )
    op.create_table(
        "api_auth_failures",
        sa.Column("iam_key", sa.String(200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("iam_key", name="pk_api_auth_failures"),
    )
    op.create_table(
        "api_credentials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("iam_key", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_credentials"),
        sa.UniqueConstraint("iam_key", name="uq_api_credentials_iam_key"),
    )
    op.create_table(
        "custom_fields",
        sa.Column("name", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_custom_fields"),
    )
    op.create_table(
        "communities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_communities"),
    )
    op.create_index(
        "uq_communities_name_lower", "communities", [sa.text("lower(name)")], unique=True
    )
    op.create_table(
        "custom_user_lists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("list_key", sa.String(40), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(100), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_custom_user_lists"),
        sa.UniqueConstraint("list_key", name="uq_custom_user_lists_list_key"),
    )
    op.create_index(
        "uq_custom_user_lists_name_lower",
        "custom_user_lists",
        [sa.text("lower(name)")],
        unique=True,
    )
    op.create_table(
        "members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_key", sa.String(100), nullable=False),
        sa.Column("legacy_contact_key", sa.String(100), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("first_name", sa.String(200), nullable=True),
        sa.Column("last_name", sa.String(200), nullable=True),
        sa.Column("company", sa.String(300), nullable=True),
        sa.Column("title", sa.String(300), nullable=True),
        sa.Column("member_type", sa.String(100), nullable=True),
        sa.Column("joined_at", UTCDateTime(), nullable=True),
        sa.Column("last_login_at", UTCDateTime(), nullable=True),
        sa.Column("is_super_admin", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("custom_fields", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_members"),
        sa.UniqueConstraint("contact_key", name="uq_members_contact_key"),
        sa.UniqueConstraint("legacy_contact_key", name="uq_members_legacy_contact_key"),
    )
    op.create_index("ix_members_email_lower", "members", [sa.text("lower(email)")])
    op.create_table(
        "activity_events",
        sa.Column("id", BigId, nullable=False),
        sa.Column("event_id", sa.String(200), nullable=True),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("type_id", sa.SmallInteger(), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name="fk_activity_events_community_id_communities",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name="fk_activity_events_member_id_members"
        ),
        sa.ForeignKeyConstraint(
            ["type_id"], ["activity_types.id"], name="fk_activity_events_type_id_activity_types"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_activity_events"),
        sa.UniqueConstraint("event_id", name="uq_activity_events_event_id"),
    )
    op.create_index(
        "ix_activity_events_member", "activity_events", ["member_id", "occurred_at", "type_id"]
    )
    op.create_index(
        "ix_activity_events_type_time", "activity_events", ["type_id", "occurred_at", "member_id"]
    )
    op.create_table(
        "memberships",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(100), nullable=True),
        sa.Column("joined_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["community_id"], ["communities.id"], name="fk_memberships_community_id_communities"
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name="fk_memberships_member_id_members"
        ),
        sa.PrimaryKeyConstraint("member_id", "community_id", name="pk_memberships"),
    )
    op.create_index("ix_memberships_community_id", "memberships", ["community_id"])


def downgrade() -> None:
    for table in (
        "memberships",
        "activity_events",
        "members",
        "custom_user_lists",
        "communities",
        "custom_fields",
        "api_credentials",
        "api_auth_failures",
        "activity_types",
    ):
        op.drop_table(table)
