"""On SQLite, a group's members are stored in the order of their key (group, subscriber),
without a rowid: one b-tree fewer to read and write for each member a sync adds or removes.

Revision ID: m0020
Revises: m0019
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "m0020"
down_revision: str | None = "m0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "group_members"


def upgrade() -> None:
    _recreate(with_rowid=False)


def downgrade() -> None:
    _recreate(with_rowid=True)


def _recreate(*, with_rowid: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL has no rowid; its table stays as it is
    with op.batch_alter_table(
        TABLE, recreate="always", table_kwargs={"sqlite_with_rowid": with_rowid}
    ):
        pass
