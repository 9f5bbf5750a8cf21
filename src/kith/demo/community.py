"""A demo community written as the CSV files a real one would export: members, chapters, activity.

Seeded, so every `make demo` tells the same story relative to the day it runs.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from kith.community.ingest import MEMBER_COLUMNS as MEMBER_IMPORT_COLUMNS
from kith.community.models import BUILTIN_ACTIVITY_TYPES
from kith.demo.csvfiles import write_csv

FIRST_NAMES = ("Ada", "Ben", "Chloe", "Dev", "Elif", "Farah", "Gus", "Hana", "Ivan", "Jo", "Kemi")
LAST_NAMES = ("Okafor", "Lindqvist", "Moreau", "Patel", "Quinn", "Romero", "Sato", "Tanaka")
COMPANIES = ("Northwind", "Contoso", "Fabrikam", "Tailspin", "Wide World Importers", "")
MEMBER_TYPES = ("Member", "Member", "Member", "Student", "Fellow", "Staff")
COMMUNITIES = ("Open Forum", "Chapter North", "Chapter South", "Young Professionals")
SUPER_ADMIN_EMAIL = "sam.admin@demo.example.org"
MEMBER_COLUMNS = [*MEMBER_IMPORT_COLUMNS, "chapter_role"]  # one custom field
# Rows a real export contains and an import must report rather than swallow.
BAD_ACTIVITY_ROWS = (
    ("", "M-NOBODY", "thread_started", "2026-01-01T10:00:00Z", ""),
    ("", "M-0001", "posted_a_selfie", "2026-01-01T10:00:00Z", ""),
    ("", "M-0002", "login", "last tuesday", ""),
)


@dataclass(frozen=True)
class DemoFiles:
    members: Path
    memberships: Path
    activity: Path


def write_demo_community(folder: Path, *, now: datetime, members: int = 240) -> DemoFiles:
    """Write members.csv, memberships.csv and activity.csv into `folder`."""
    rng = random.Random(20261127)
    folder.mkdir(parents=True, exist_ok=True)
    files = DemoFiles(folder / "members.csv", folder / "memberships.csv", folder / "activity.csv")
    keys = [f"M-{number:04}" for number in range(1, members + 1)]
    write_csv(files.members, MEMBER_COLUMNS, _member_rows(rng, keys, now))
    write_csv(
        files.memberships,
        ["contact_key", "community", "role", "joined_at"],
        (
            (key, community, "staff" if rng.random() < 0.08 else "member", "")
            for key in keys
            for community in rng.sample(COMMUNITIES, rng.randint(0, 2))
        ),
    )
    write_csv(
        files.activity,
        ["event_id", "contact_key", "type", "occurred_at", "community"],
        _activity_rows(rng, keys, now),
    )
    return files


def _member_rows(rng: random.Random, keys: list[str], now: datetime) -> Iterator[tuple[str, ...]]:
    long_ago = _iso(now - timedelta(days=900))
    yield ("M-0000", "AMS-0000", SUPER_ADMIN_EMAIL, "Sam", "Admin", "Kith", "Community Manager",
           "Staff", long_ago, _iso(now), "true", "")  # fmt: skip
    previous_email = ""
    for number, key in enumerate(keys, start=1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{first}.{last}{number}@demo.example.org".lower()
        if number % 47 == 0:
            email = email.replace("@", " at ")  # malformed, as real exports have
        elif number % 59 == 0 and "@" in previous_email:
            email = previous_email.upper()  # one address shared by two members
        previous_email = email
        legacy = "" if number % 13 == 0 else f"AMS-{number:04}"
        days = rng.randint(0, 6) if number % 20 == 0 else rng.randint(7, 720)
        yield (key, legacy, email, first, last, rng.choice(COMPANIES), "",
               rng.choice(MEMBER_TYPES), _iso(now - timedelta(days=days)), "", "false",
               "lead" if rng.random() < 0.08 else "")  # fmt: skip


def _activity_rows(rng: random.Random, keys: list[str], now: datetime) -> Iterator[tuple[str, ...]]:
    event_number = 0
    for key in keys:
        # a few heavy contributors, many lurkers, a fifth silent for the last 90 days
        mood = rng.random()
        silent = mood < 0.2
        count = 0 if mood < 0.1 else int(rng.paretovariate(1.3) * 3)
        for _ in range(count):
            event_number += 1
            kind = rng.choice(BUILTIN_ACTIVITY_TYPES)
            days_ago = rng.uniform(91, 400) if silent else rng.uniform(0, 89)
            community = "" if kind == "login" else rng.choice(COMMUNITIES)
            when = _iso(now - timedelta(days=days_ago))
            yield (f"E{event_number:06}", key, kind, when, community)
    yield from BAD_ACTIVITY_ROWS


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")
