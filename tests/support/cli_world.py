"""`kith ARGS...` run in-process on a test's marketing database, as the CLI tests use it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kith.cli import app
from kith.config import get_settings
from kith.db import Database

KithCommand = Callable[..., tuple[int, str]]


@contextmanager
def kith_command(
    monkeypatch: pytest.MonkeyPatch, marketing_db: Database, data_dir: Path
) -> Iterator[KithCommand]:
    """A function running `kith ARGS...` and returning (exit code, output); mail goes to the
    outbox under `data_dir` and jobs to its SQLite queue, whatever the environment says."""
    for name in ("KITH_SMTP_URL", "KITH_QUEUE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KITH_MARKETING_DB_URL", marketing_db.url)
    monkeypatch.setenv("KITH_DATA_DIR", str(data_dir))
    monkeypatch.setenv("KITH_SECRET_KEY", "cli-test")
    get_settings.cache_clear()
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> tuple[int, str]:
        result = runner.invoke(app, list(args), input=input)
        return result.exit_code, result.output

    try:
        yield run
    finally:
        get_settings.cache_clear()
