"""Scoring models, scores, and the community's daily activity kept for scoring and reports.

Revision ID: m0006
Revises: m0005
Create Date: 2026-11-27
"""

from collections.abc import Sequence

revision: str = "m0006"
down_revision: str | None = "m0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
