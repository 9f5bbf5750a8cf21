"""Alembic migrations for both sides, run from code (`kith init`) without an alembic.ini."""

from __future__ import annotations

import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from kith.db import Database

SIDES = ("community", "marketing")
_PACKAGE_DIR = Path(__file__).parent


def alembic_config(side: str) -> Config:
    if side not in SIDES:
        raise ValueError(f"unknown side {side!r}")
    config = Config()
    config.set_main_option("script_location", str(_PACKAGE_DIR / side / "migrations"))
    config.attributes["side"] = side
    return config


def upgrade(db: Database, side: str) -> tuple[str | None, str | None]:
    """Bring one side's database to the newest revision; returns (revision before, after)."""
    config = alembic_config(side)
    before = current_revision(db)
    with db.engine.execution_options(sqlite_begin="IMMEDIATE").begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    return before, current_revision(db)


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(side: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(side)).get_current_head()


def make_revision(db: Database, side: str, message: str) -> None:
    """For developers: autogenerate a revision from the models against an up-to-date database."""
    config = alembic_config(side)
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)


if __name__ == "__main__":  # python -m kith.migrate SIDE URL MESSAGE
    side_arg, url_arg, message_arg = sys.argv[1:4]
    database = Database(url_arg)
    upgrade(database, side_arg)
    make_revision(database, side_arg, message_arg)
