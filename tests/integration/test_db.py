"""The storage recipe: pragmas on SQLite, transactions that roll back, both backends migrated."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select, text

from kith.clock import utcnow
from kith.community.models import BUILTIN_ACTIVITY_TYPES, ActivityType, Community
from kith.community.schema import metadata as community_schema
from kith.db import Database
from kith.marketing.schema import metadata as marketing_schema
from kith.migrate import current_revision, head_revision, upgrade


def test_migration_is_at_head_and_rerunning_it_changes_nothing(community_db: Database) -> None:
    head = head_revision("community")
    assert current_revision(community_db) == head
    assert upgrade(community_db, "community") == (head, head)


def test_builtin_activity_types_are_seeded(community_db: Database) -> None:
    with community_db.session() as session:
        names = session.scalars(select(ActivityType.name).order_by(ActivityType.id)).all()
    assert tuple(names) == BUILTIN_ACTIVITY_TYPES


def test_a_failing_transaction_leaves_nothing_behind(community_db: Database) -> None:
    with pytest.raises(RuntimeError), community_db.transaction() as session:
        session.add(Community(name="Chapter A", created_at=utcnow()))
        session.flush()
        raise RuntimeError("abort")
    with community_db.session() as session:
        assert session.scalar(select(func.count()).select_from(Community)) == 0


def test_sqlite_connections_use_wal_and_foreign_keys(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    with db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 30000
    db.dispose()


def test_a_new_sqlite_database_and_its_wal_are_readable_by_their_owner_only(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "var"
    umask = os.umask(0o022)  # the usual one, under which SQLite alone makes files 0644
    try:
        db = Database(f"sqlite:///{folder / 'community.db'}")
        upgrade(db, "community")
        with db.transaction() as session:
            session.add(Community(name="Chapter A", created_at=utcnow()))
        modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in folder.iterdir()}
        db.dispose()
    finally:
        os.umask(umask)

    assert modes == {"community.db": 0o600, "community.db-wal": 0o600, "community.db-shm": 0o600}


def test_sqlite_writers_begin_immediate_so_a_second_writer_waits(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    upgrade(db, "community")
    with db.transaction() as session:
        session.add(Community(name="A", created_at=utcnow()))
        session.flush()
        raw = session.connection().connection.dbapi_connection
        assert raw is not None and raw.in_transaction
        # another connection cannot take the write lock while this one holds it
        other = Database(db.url)
        with other.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA busy_timeout=0")
            with pytest.raises(Exception, match="locked"):
                connection.exec_driver_sql("BEGIN IMMEDIATE")
        other.dispose()
    db.dispose()


def test_an_sqlite_bulk_transaction_skips_foreign_keys_then_restores_them(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    with db.bulk_transaction() as session:
        assert session.execute(text("PRAGMA foreign_keys")).scalar() == 0
        assert session.execute(text("PRAGMA cache_size")).scalar() == -1048576
    with db.session() as session:  # the same pooled connection, back to the usual pragmas
        assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert session.execute(text("PRAGMA cache_size")).scalar() == -262144
    db.dispose()


@pytest.mark.filterwarnings("ignore:.*expression-based index")
def test_the_migrations_build_every_table_the_models_declare(
    community_db: Database, marketing_db: Database
) -> None:
    for db, metadata in ((community_db, community_schema), (marketing_db, marketing_schema)):
        with db.engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), metadata)
        assert differences == [], db.url


def test_sqlite_stores_without_rowid_the_tables_the_models_say(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'marketing.db'}")
    upgrade(db, "marketing")
    declared = {
        name
        for name, table in marketing_schema.tables.items()
        if table.dialect_options["sqlite"]["with_rowid"] is False
    }
    with db.engine.connect() as connection:
        stored = set(
            connection.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE '%WITHOUT ROWID%'"
            ).scalars()
        )
    db.dispose()
    assert declared == stored == {"group_members"}
