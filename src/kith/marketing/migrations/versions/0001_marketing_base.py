"""Marketing database baseline: the revision every marketing migration builds on.

Revision ID: m0001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

revision: str = "m0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """The marketing tables arrive with the marketing-side issue; this pins the version table."""


def downgrade() -> None:
    """Nothing to undo."""
