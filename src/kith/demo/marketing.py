"""The demo's marketing side: subscribers as an AMS export would give them, and target groups.

Most community members are subscribers with their AMS id as Remote ID (what the connection
will match Legacy Contact Keys on); some are missing, some are prospects known only by email,
and a household shares one address under two Remote IDs.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from kith.csvimport.report import ImportReport
from kith.db import Database
from kith.demo.csvfiles import write_csv
from kith.marketing.groups import target_groups as groups
from kith.marketing.groups.members import MembershipReport, change_members
from kith.marketing.subscriber_import import SUBSCRIBER_COLUMNS, import_subscribers

NEWSLETTER = "Newsletter"
BOARD = "Board"
COMPOUND = "Newsletter Readers Not On The Board"
PROSPECTS = 12
# Rows an AMS export contains and an import must report rather than swallow.
BAD_SUBSCRIBER_ROWS = (
    ("nobody-at-demo.example.org", "AMS-9001", "No", "Body", ""),
    ("later@demo.example.org", "AMS-9002", "Lat", "Er", "maybe"),
)


@dataclass(frozen=True)
class MarketingDemo:
    subscribers: ImportReport
    memberships: dict[str, MembershipReport]
    groups: list[groups.GroupSummary]


def build_marketing_demo(
    db: Database, members_csv: Path, folder: Path, *, now: datetime
) -> MarketingDemo:
    """Import the demo subscribers, fill two static groups and define one compound group."""
    rng = random.Random(20261128)
    subscribers_csv = folder / "subscribers.csv"
    write_csv(subscribers_csv, SUBSCRIBER_COLUMNS, _subscriber_rows(rng, members_csv))
    with subscribers_csv.open(newline="") as file, db.bulk_transaction() as session:
        subscribers = import_subscribers(session, csv.reader(file), now=now)
    memberships = {}
    with db.transaction() as session:
        for name, rows in (
            (NEWSLETTER, _newsletter_rows(rng, subscribers_csv)),
            (BOARD, (("remote_id",), *((f"AMS-{n:04}",) for n in range(1, 60, 6)))),
        ):
            group = groups.create_group(session, name, now=now)
            memberships[name] = change_members(session, group, rows, now=now)
        groups.create_compound_group(
            session,
            COMPOUND,
            include=[NEWSLETTER],
            include_mode="any",
            exclude=[BOARD],
            exclude_mode="any",
            now=now,
        )
    with db.session() as session:
        summaries = groups.list_groups(session)
    return MarketingDemo(subscribers, memberships, summaries)


def _subscriber_rows(rng: random.Random, members_csv: Path) -> Iterator[tuple[str, ...]]:
    with members_csv.open(newline="") as file:
        for member in csv.DictReader(file):
            legacy_key = member["legacy_contact_key"]
            if not legacy_key or rng.random() < 0.1:
                continue  # not in the AMS export: the connection will report these
            email = member["email"].replace(" at ", "@")
            status = "unsubscribed" if rng.random() < 0.05 else ""
            yield (email, legacy_key, member["first_name"], member["last_name"], status)
    yield ("household@demo.example.org", "AMS-8001", "Kim", "Household", "")
    yield ("household@demo.example.org", "AMS-8002", "Lou", "Household", "")
    for number in range(1, PROSPECTS + 1):
        yield (f"prospect{number}@demo.example.org", "", "", "", "")
    yield from BAD_SUBSCRIBER_ROWS


def _newsletter_rows(rng: random.Random, subscribers_csv: Path) -> list[tuple[str, ...]]:
    """Every prospect, and about a third of the members, by email."""
    with subscribers_csv.open(newline="") as file:
        emails = [row["email"] for row in csv.DictReader(file) if row["email"].count("@") == 1]
    bad = {row[0] for row in BAD_SUBSCRIBER_ROWS}
    readers = [e for e in emails if e.startswith("prospect") or rng.random() < 0.33]
    readers = [e for e in readers if e not in bad]
    return [("email",), *((email,) for email in dict.fromkeys(readers) if "household" not in email)]
