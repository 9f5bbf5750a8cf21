"""Files only their owner may read (keys, SQLite files): created with mode 0600 from the start."""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
from collections.abc import Iterator
from pathlib import Path


def create_private_file(path: Path, text: str) -> None:
    """Create `path` holding `text`, unless another process has just done so (theirs wins).

    The content is written to a private temporary file and linked into place, so no reader ever
    sees a half-written file, and of two processes starting at once only one content survives.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _write_private_temporary(path, text)
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass  # another process created it first: use theirs
    finally:
        temporary.unlink()
    _sync_directory(path.parent)


def touch_private_file(path: Path) -> None:
    """Create `path` empty and readable by its owner only, unless it exists (then it is left as
    it is). SQLite gives a database's -wal and -shm files the database file's mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def replace_private_file(path: Path, text: str) -> None:
    os.replace(_write_private_temporary(path, text), path)
    _sync_directory(path.parent)


def _write_private_temporary(path: Path, text: str) -> Path:
    """A new file next to `path` holding `text`, readable by its owner only from the start."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    return temporary


def _sync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock beside `path` (in `path.lock`) for the length of a block."""
    descriptor = os.open(path.with_name(f"{path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)
