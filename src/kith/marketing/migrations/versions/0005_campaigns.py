"""Campaigns, their steps and versions, enrollments, and the scheduler's due work.

Revision ID: m0005
Revises: m0004
Create Date: 2026-11-27
"""

from collections.abc import Sequence

revision: str = "m0005"
down_revision: str | None = "m0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
