"""Every `kith` command's last resort (kith.cli.context.no_tracebacks): a failure no command
answered is one plain sentence and exit 1, its traceback only with --debug or KITH_DEBUG=1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from kith.cli import app
from kith.config import get_settings

CREDENTIALS = ("community", "credentials", "list")


@pytest.fixture
def kith(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """A runner on a data dir that `kith init` has not made."""
    for name in ("KITH_COMMUNITY_DB_URL", "KITH_MARKETING_DB_URL", "KITH_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KITH_DATA_DIR", str(tmp_path / "never-initialized"))
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


@pytest.fixture
def uninitialized_community(
    backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The community database `kith` uses is empty: on SQLite, the data dir's (made on first
    use); on PostgreSQL, a new database."""
    if backend == "postgresql":
        make: Callable[[str], str] = request.getfixturevalue("new_postgres_database")
        monkeypatch.setenv("KITH_COMMUNITY_DB_URL", make("uninitialized"))


@pytest.mark.usefixtures("uninitialized_community")
def test_a_command_on_databases_kith_init_has_not_made_says_to_run_it(kith: CliRunner) -> None:
    result = kith.invoke(app, list(CREDENTIALS))

    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "error: the database has no table api_credentials: run `kith init` to create Kith's "
        "databases (or point KITH_DATA_DIR or the database URLs at ones it made)"
    ]


def test_a_database_that_is_not_one_is_told_in_a_sentence_that_points_at_debug(
    kith: CliRunner, tmp_path: Path
) -> None:
    folder = tmp_path / "never-initialized"
    folder.mkdir()
    (folder / "community.db").write_bytes(b"a spreadsheet, not a database" * 100)

    result = kith.invoke(app, list(CREDENTIALS))

    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "error: DatabaseError: file is not a database; run again with --debug (or KITH_DEBUG=1) "
        "to see where"
    ]


@pytest.mark.parametrize("switch", ["--debug", "KITH_DEBUG=1"])
def test_with_debug_the_failure_keeps_its_traceback(
    kith: CliRunner, monkeypatch: pytest.MonkeyPatch, switch: str
) -> None:
    if switch == "--debug":
        result = kith.invoke(app, ["--debug", *CREDENTIALS])
    else:
        monkeypatch.setenv("KITH_DEBUG", "1")
        get_settings.cache_clear()
        result = kith.invoke(app, list(CREDENTIALS))

    assert result.exit_code == 1
    assert isinstance(result.exception, DBAPIError)
    assert "no such table: api_credentials" in str(result.exception)


def test_a_message_is_printed_as_it_is_even_when_it_looks_like_markup(
    kith: CliRunner, tmp_path: Path
) -> None:
    missing = tmp_path / "[red]criteria.json"

    result = kith.invoke(app, ["community", "lists", "preview", "--criteria", str(missing)])

    assert result.exit_code == 1
    assert result.output.splitlines() == [f"error: criteria file '{missing}' does not exist"]
