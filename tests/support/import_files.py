"""CSV files for the import tests, written as lines of text."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)

MEMBERS_HEADER = (
    "contact_key,legacy_contact_key,email,first_name,last_name,company,title,member_type,"
    "joined_at,last_login_at,is_super_admin"
)
MEMBERSHIPS_HEADER = "contact_key,community,role,joined_at"
ACTIVITY_HEADER = "event_id,contact_key,type,occurred_at,community"


def csv_rows(*lines: str) -> Iterator[list[str]]:
    """The rows of a CSV file made of these lines, streamed as `kith ... import` streams them."""
    return csv.reader(io.StringIO("\n".join(lines) + "\n"))


def member_line(contact_key: str, legacy_contact_key: str = "", email: str = "") -> str:
    """A members row with only its keys and email filled in."""
    return f"{contact_key},{legacy_contact_key},{email},,,,,,,,"
