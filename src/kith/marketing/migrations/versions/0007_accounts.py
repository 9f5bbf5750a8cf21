"""Accounts of the marketing web admin (Argon2 hashes) and their sessions.

Revision ID: m0007
Revises: m0006
Create Date: 2026-11-27
"""

from collections.abc import Sequence

revision: str = "m0007"
down_revision: str | None = "m0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
