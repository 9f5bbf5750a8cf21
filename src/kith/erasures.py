"""Erasing a person: the record each side keeps of an erase (who, when, how many rows), the
keyed hash that remembers an erased person without naming them, and SQLite's free space.

An erase record never holds the person's data: only the side, the Super Admin or admin who
asked, the instant, and per table the number of rows deleted or made anonymous. Each side
keeps its own `erasures` table built from these columns (kith.community.personal_data,
kith.marketing.personal_data), as each keeps its own sign-in failures.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import sqlite3
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kith.db import Database, UTCDateTime

log = logging.getLogger(__name__)

# What an anonymised row says where the person's address or key was.
ERASED = "(erased)"
# an erased person's deliveries say so when they had bounced, for the reports' bounced count
ERASED_BOUNCED = "(erased: bounced)"
# What a command says when SQLite stayed busy (forget_deleted_rows)
LINGERING = (
    "warning: the database stayed busy, so the deleted rows' bytes remain in its file until the"
    " next erase or a VACUUM"
)
_DIGEST_PURPOSE = b"kith.erased-person.v1\x00"


class ErasureColumns:
    """The columns of a side's `erasures` table."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    side: Mapped[str] = mapped_column(String(20))
    erased_by: Mapped[str] = mapped_column(String(320))
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # table name -> rows deleted or made anonymous
    counts: Mapped[dict[str, Any]] = mapped_column(JSON)


class ErasureOut(BaseModel):
    """An erase as the API answers it."""

    erasure: int
    side: str
    erased_by: str
    erased_at: datetime
    counts: dict[str, int]


def erasure_json(erasure: ErasureColumns) -> dict[str, Any]:
    return {
        "erasure": erasure.id,
        "side": erasure.side,
        "erased_by": erasure.erased_by,
        "erased_at": erasure.erased_at.isoformat(),
        "counts": erasure.counts,
    }


def row_json(row: Any, *, leave_out: tuple[str, ...] = ()) -> dict[str, Any]:
    """A row's columns as JSON values, for a person's export."""
    return {
        column.key: json_value(getattr(row, column.key))
        for column in row.__table__.columns
        if column.key not in leave_out
    }


def json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


def keyed_digest(key: bytes, kind: str, value: str) -> str:
    """HMAC-SHA256 of `value` (an email key, a Remote ID) under the installation's key: equal
    values give equal digests here, and nobody without the key can test a guess against it."""
    message = _DIGEST_PURPOSE + kind.encode() + b"\x00" + value.encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def forget_deleted_rows(db: Database) -> bool:
    """Make deleted rows unreadable from the database's files (SQLite; nothing to do on
    PostgreSQL); False, logged, when SQLite stayed busy past its timeout (the next erase, or a
    VACUUM, finishes the job).

    SQLite leaves a deleted row's bytes in free pages, and earlier copies of it (a row
    rewritten by an update, a group's mirror rewritten by every sync) in pages freed long
    before, and in the WAL until a checkpoint overwrites it. `PRAGMA secure_delete` would zero
    only what the erase itself deletes, not those earlier copies, so the file is rebuilt from
    its live rows (VACUUM) and the WAL checkpointed and truncated to nothing. PostgreSQL's dead
    tuples are not readable through SQL and are reclaimed by its autovacuum.
    """
    if not db.is_sqlite:
        return True
    with db.engine.connect() as connection:
        raw: Any = connection.connection.driver_connection
        try:
            raw.execute("VACUUM")
            busy, _, _ = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.OperationalError as error:
            busy = str(error)
    if busy:
        log.warning("deleted rows may linger in %s until the next VACUUM: %s", db.url, busy)
    return not busy
