"""Live lists: each list's current members and change log, and the triggers that note which
members changed (record, memberships, activity) for the next pass that keeps lists current.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kith.db import UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# (table, aspect, the changed member's id column, the detail column or NULL)
WATCHED = (
    ("members", 1, "id", "NULL"),
    ("memberships", 2, "member_id", "NULL"),
    ("activity_events", 3, "member_id", "type_id"),
)


def upgrade() -> None:
    with op.batch_alter_table("custom_user_lists") as batch:
        batch.add_column(sa.Column("evaluated_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("materialized_at", UTCDateTime(), nullable=True))
        batch.add_column(
            sa.Column("changes_pruned_through", BigId, server_default="0", nullable=False)
        )
    op.create_table(
        "list_members",
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("contact_key", sa.String(100), nullable=True),
        sa.Column("legacy_contact_key", sa.String(100), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["custom_user_lists.id"],
            name="fk_list_members_list_id_custom_user_lists",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("list_id", "member_id", name="pk_list_members"),
    )
    op.create_table(
        "list_changes",
        sa.Column("seq", BigId, nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("change", sa.String(10), nullable=False),
        sa.Column("contact_key", sa.String(100), nullable=True),
        sa.Column("legacy_contact_key", sa.String(100), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("changed_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("change IN ('added', 'removed')", name="change"),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["custom_user_lists.id"],
            name="fk_list_changes_list_id_custom_user_lists",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("seq", name="pk_list_changes"),
    )
    op.create_index("ix_list_changes_changed_at", "list_changes", ["changed_at"])
    op.create_index("ix_list_changes_list_seq", "list_changes", ["list_id", "seq"])
    op.create_table(
        "member_changes",
        sa.Column("id", BigId, nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("aspect", sa.SmallInteger(), nullable=False),
        sa.Column("detail", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_member_changes"),
    )
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_triggers()
    else:
        _postgresql_triggers()
    # every member counts as changed once, so that the first pass sees everyone
    op.execute(
        "INSERT INTO member_changes (member_id, aspect, detail) SELECT id, 1, NULL FROM members"
    )


def _sqlite_triggers() -> None:
    """Row triggers: SQLite has no others."""
    for table, aspect, member, detail in WATCHED:
        for event, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
            value = detail if detail == "NULL" else f"{row}.{detail}"
            op.execute(
                f"CREATE TRIGGER {table}_{event.lower()}_noted AFTER {event} ON {table} "
                f"BEGIN INSERT INTO member_changes (member_id, aspect, detail) "
                f"VALUES ({row}.{member}, {aspect}, {value}); END"
            )


def _postgresql_triggers() -> None:
    """Statement triggers with transition tables: one row per member and type however many
    rows a bulk load writes."""
    for table, aspect, member, detail in WATCHED:
        op.execute(
            f"CREATE FUNCTION {table}_noted() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"INSERT INTO member_changes (member_id, aspect, detail) "
            f"SELECT DISTINCT {member}, {aspect}, {detail}::integer FROM changed_rows; "
            f"RETURN NULL; END $$"
        )
        for event, rows in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
            op.execute(
                f"CREATE TRIGGER {table}_{event.lower()}_noted AFTER {event} ON {table} "
                f"REFERENCING {rows} TABLE AS changed_rows FOR EACH STATEMENT "
                f"EXECUTE FUNCTION {table}_noted()"
            )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name != "sqlite"
    for table, _aspect, _member, _detail in WATCHED:
        for event in ("insert", "update", "delete"):
            on = f" ON {table}" if postgresql else ""
            op.execute(f"DROP TRIGGER IF EXISTS {table}_{event}_noted{on}")
        if postgresql:
            op.execute(f"DROP FUNCTION IF EXISTS {table}_noted()")
    op.drop_table("member_changes")
    op.drop_index("ix_list_changes_list_seq", table_name="list_changes")
    op.drop_index("ix_list_changes_changed_at", table_name="list_changes")
    op.drop_table("list_changes")
    op.drop_table("list_members")
    with op.batch_alter_table("custom_user_lists") as batch:
        batch.drop_column("changes_pruned_through")
        batch.drop_column("materialized_at")
        batch.drop_column("evaluated_at")
