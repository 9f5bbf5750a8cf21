"""A list change's `seq` is never given again on SQLite, even once every change was pruned.

A plain rowid key takes the largest seq in the table plus one, so after a pass pruned the whole
log SQLite started again below the cursors readers held, and their next reads missed the new
changes. AUTOINCREMENT keeps the largest seq ever given; PostgreSQL's identity always did.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

import warnings
from collections.abc import Sequence

from alembic import op
from sqlalchemy.exc import SAWarning

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _rebuild(autoincrement=True)


def downgrade() -> None:
    _rebuild(autoincrement=False)


def _rebuild(*, autoincrement: bool) -> None:
    """The table made again with its rows, on SQLite (which cannot alter a key)."""
    if op.get_bind().dialect.name != "sqlite":
        return
    with warnings.catch_warnings():  # the lists' expression index, which the copy does not touch
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", SAWarning)
        with op.batch_alter_table(
            "list_changes", recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass
