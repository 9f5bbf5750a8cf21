"""Fixtures that build real databases: every storage test runs on SQLite and on PostgreSQL.

PostgreSQL comes from KITH_TEST_POSTGRES_URL (default: the local server). When it cannot be
reached the PostgreSQL cases are skipped with the reason, except under CI=true, where they fail.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import fields
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from kith.config import Settings
from kith.db import Database, normalize_url
from kith.marketing.ports import ports
from kith.migrate import upgrade
from tests.support.smtp_sink import smtp_sink  # noqa: F401  (a fixture for every test)


@pytest.fixture(autouse=True)
def unwired_ports() -> Iterator[None]:
    """Marketing's ports as each test found them: a test that starts a process (kith.app.start)
    wires them for its own databases and settings, which must not reach the next test."""
    wired = {port.name: getattr(ports, port.name) for port in fields(ports)}
    yield
    for name, port in wired.items():
        setattr(ports, name, port)


POSTGRES_URL = os.environ.get(
    "KITH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = ("sqlite", "postgresql")

# Tables whose rows a migration seeds; they are reset to the seeded rows between tests.
SEEDED = {
    "activity_types": "DELETE FROM activity_types WHERE NOT builtin",
    "folders": "DELETE FROM folders WHERE name <> 'Main'",
    "subscriber_changes": "UPDATE subscriber_changes SET seq = 0",
}


class PostgresServer:
    """The test server: one database per side per test session, emptied between tests."""

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        self.admin = create_engine(self.url, isolation_level="AUTOCOMMIT")
        self.suffix = uuid.uuid4().hex[:8]
        self.created: list[str] = []

    def unreachable_reason(self) -> str | None:
        try:
            with self.admin.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as error:  # any failure to connect is the reason to report
            return (
                f"PostgreSQL at {POSTGRES_URL} is unreachable: {error.__class__.__name__}: {error}"
            )
        return None

    def create_database(self, side: str) -> Database:
        name = f"kith_test_{side}_{self.suffix}"
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        db = Database(make_url(self.url).set(database=name).render_as_string(hide_password=False))
        upgrade(db, side)
        return db

    def new_database(self, label: str) -> str:
        """A new, empty database (not migrated) of a name of its own; its URL."""
        name = f"kith_test_{label}_{self.suffix}_{uuid.uuid4().hex[:8]}"
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return make_url(self.url).set(database=name).render_as_string(hide_password=False)

    def drop_database(self, url: str) -> None:
        name = make_url(url).database
        with self.admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def drop_all(self) -> None:
        with self.admin.connect() as connection:
            for name in self.created:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer(POSTGRES_URL)
    yield server
    server.drop_all()


def require_postgres(server: PostgresServer) -> None:
    """Skip the test when PostgreSQL cannot be reached (fail it under CI=true)."""
    reason = server.unreachable_reason()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true requires PostgreSQL: {reason}")
        pytest.skip(reason)


@pytest.fixture
def new_postgres_database(postgres_server: PostgresServer) -> Iterator[Callable[[str], str]]:
    """Makes empty PostgreSQL databases for one test (`label` -> URL), dropped after it."""
    require_postgres(postgres_server)
    made: list[str] = []

    def make(label: str) -> str:
        made.append(postgres_server.new_database(label))
        return made[-1]

    yield make
    for url in made:
        postgres_server.drop_database(url)


@pytest.fixture(scope="session")
def _postgres_databases(postgres_server: PostgresServer) -> Iterator[dict[str, Database]]:
    require_postgres(postgres_server)
    databases = {side: postgres_server.create_database(side) for side in ("community", "marketing")}
    yield databases
    for db in databases.values():
        db.dispose()


@pytest.fixture(scope="session")
def _sqlite_templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Migrated SQLite files, copied for each test instead of migrating again."""
    folder = tmp_path_factory.mktemp("sqlite-templates")
    templates = {}
    for side in ("community", "marketing"):
        path = folder / f"{side}.db"
        db = Database(f"sqlite:///{path}")
        upgrade(db, side)
        with db.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        db.dispose()
        templates[side] = path
    return templates


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _empty(db: Database) -> None:
    with db.transaction() as session:
        tables = [name for name in reversed(db_table_names(db)) if name != "alembic_version"]
        for name in tables:
            session.execute(text(SEEDED.get(name, f"DELETE FROM {name}")))


def db_table_names(db: Database) -> list[str]:
    from sqlalchemy import inspect

    from kith.community.models import Base as CommunityBase
    from kith.marketing.models import Base as MarketingBase

    known = [t.name for t in CommunityBase.metadata.sorted_tables]
    known += [t.name for t in MarketingBase.metadata.sorted_tables]
    present = set(inspect(db.engine).get_table_names())
    return [name for name in known if name in present]


def _side_database(
    side: str, backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Database]:
    if backend == "postgresql":
        db: Database = request.getfixturevalue("_postgres_databases")[side]
        _empty(db)
        yield db
        return
    templates: dict[str, Path] = request.getfixturevalue("_sqlite_templates")
    path = tmp_path / f"{side}.db"
    shutil.copyfile(templates[side], path)
    db = Database(f"sqlite:///{path}")
    yield db
    db.dispose()


@pytest.fixture
def community_db(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Database]:
    """A migrated, empty community database on the parametrized backend."""
    yield from _side_database("community", backend, request, tmp_path)


@pytest.fixture
def marketing_db(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Database]:
    """A migrated, empty marketing database on the parametrized backend."""
    yield from _side_database("marketing", backend, request, tmp_path)


@pytest.fixture
def settings(tmp_path: Path, community_db: Database) -> Settings:
    """Settings pointing at this test's databases and a private data dir."""
    return Settings(
        data_dir=tmp_path / "var",
        community_db_url=community_db.url,
        marketing_db_url=f"sqlite:///{tmp_path / 'marketing.db'}",
        secret_key="test-secret-key",
    )
