"""Failed authentications counted per client address and subject (issue 21): API keys and logins.

`api_auth_failures` was keyed by IAM key alone, and a login's wrong passwords lived on the login,
so whoever knew a key or an email could lock its owner out. Both now count per (address, key or
login). The old counts are dropped: they describe at most one window (five minutes by default).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op
from alembic.operations import BatchOperations

from kith.db import UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FAILURE_TABLES = ("api_auth_failures", "sign_in_failures")


def upgrade() -> None:
    op.drop_table("api_auth_failures")
    for table in FAILURE_TABLES:
        op.create_table(
            table,
            sa.Column("source", sa.String(100), nullable=False),
            sa.Column("subject", sa.String(200), nullable=False),
            sa.Column("failures", sa.Integer(), nullable=False),
            sa.Column("window_started_at", UTCDateTime(), nullable=False),
            sa.PrimaryKeyConstraint("source", "subject", name=f"pk_{table}"),
        )
        op.create_index(f"ix_{table}_window_started_at", table, ["window_started_at"])
    with _accounts_batch() as batch_op:
        batch_op.drop_column("failed_sign_ins")
        batch_op.drop_column("locked_until")


def downgrade() -> None:
    with _accounts_batch() as batch_op:
        batch_op.add_column(
            sa.Column("failed_sign_ins", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("locked_until", UTCDateTime(), nullable=True))
    for table in FAILURE_TABLES:
        op.drop_table(table)
    op.create_table(
        "api_auth_failures",
        sa.Column("iam_key", sa.String(200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("iam_key", name="pk_api_auth_failures"),
    )


@contextmanager
def _accounts_batch() -> Iterator[BatchOperations]:
    """SQLite rebuilds `accounts`, reflecting `members` for its foreign key; SQLAlchemy cannot
    reflect members' index on lower(email) and says so, but the rebuild does not need it."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based")
        with op.batch_alter_table("accounts") as batch_op:
            yield batch_op
