"""Automation Rules: named List Builder criteria with an action (send_email with a subject, ...).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kith.db import UTCDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "automation_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_key", sa.String(40), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(500), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(100), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "(action = 'send_email') = (subject IS NOT NULL)",
            name="ck_automation_rules_subject_only_for_send_email",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_automation_rules"),
        sa.UniqueConstraint("rule_key", name="uq_automation_rules_rule_key"),
    )
    op.create_index(
        "uq_automation_rules_name_lower", "automation_rules", [sa.text("lower(name)")], unique=True
    )


def downgrade() -> None:
    op.drop_table("automation_rules")
