"""The job queue's own SQLite file, which holds what the jobs work on: its owner's only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from kith.config import Settings
from kith.jobs import JobQueue


def test_the_sqlite_queue_is_created_readable_by_its_owner_only(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var", secret_key="queue-test", queue_url=None)
    umask = os.umask(0o022)  # the usual one, under which SQLite alone makes files 0644
    try:
        JobQueue(settings)
    finally:
        os.umask(umask)

    queue = tmp_path / "var" / "queue.db"
    assert stat.S_IMODE(queue.stat().st_mode) == 0o600
