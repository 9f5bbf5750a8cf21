"""Pull Community Activity: the community's daily activity counts and join dates, read over the
API and kept on the marketing side, where scoring and reports join them to subscribers by
Remote ID.

The stream is staged in temporary tables first (the community is read without holding the
marketing database's write lock); then, in one transaction, the days from `since` on are
replaced and the members' join dates brought up to date, in set-based statements. A failure
anywhere leaves what the last pull kept. Scores are recomputed after a successful pull.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kith.clock import utcnow
from kith.config import Settings
from kith.connection.client import (
    ConnectionFailed,
    client_for,
    legacy_contact_key,
    read_deadline,
)
from kith.connection.staging import applying, batches, staging_tables
from kith.csvimport.bulk import BatchWriter
from kith.csvimport.timestamps import time_parser
from kith.db import Database, UTCDateTime, refresh_statistics
from kith.encryption import SecretBox
from kith.marketing.scoring.compute import Recomputed, rescore
from kith.marketing.scoring.models import ActivityPull, CommunityActivityDay, CommunityMember

STREAM_PATH = "/activity/daily.ndjson"
# The first pull reads this much history; later ones go back a few days before the last
# pull's last day, for events the community recorded late.
HISTORY_DAYS = 400
OVERLAP_DAYS = 3

DAY_COLUMNS = ("remote_id", "day", "activity_type", "count")
MEMBER_COLUMNS = ("remote_id", "joined_at")

_staging = MetaData()
IncomingDay = Table(
    "kith_activity_incoming",
    _staging,
    Column("remote_id", String(100)),
    Column("day", Date),
    Column("activity_type", String(100)),
    Column("count", Integer),
    prefixes=["TEMPORARY"],
)
IncomingMember = Table(
    "kith_members_incoming",
    _staging,
    Column("remote_id", String(100)),
    Column("joined_at", UTCDateTime),
    prefixes=["TEMPORARY"],
)


@dataclass(frozen=True)
class ActivityPulled:
    """What a pull kept: the days it replaced, how many daily rows and members it read."""

    since: date
    through: date
    day_rows: int
    members: int
    scores: Recomputed | None

    def as_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "through": self.through.isoformat(),
            "day_rows": self.day_rows,
            "members": self.members,
            "scores": self.scores.as_json() if self.scores else None,
        }


def pull_activity(
    db: Database,
    box: SecretBox,
    *,
    now: datetime,
    since: date | None = None,
    deadline: float | None = None,
) -> ActivityPulled:
    """Replace the community activity kept from `since` on (by default from a few days before
    the last pull's last day, or the last HISTORY_DAYS days on the first pull), then rescore.

    `deadline` bounds the reading of the stream (plus an allowance for as many lines as the
    last pull read); None leaves it unbounded."""
    with db.session() as session:
        if deadline is not None:
            last = session.scalar(
                select(ActivityPull.day_rows + ActivityPull.members)
                .order_by(ActivityPull.pulled_at.desc())
                .limit(1)
            )
            deadline = read_deadline(deadline, last)
        client = client_for(session, box, deadline=deadline)
        start = since or default_since(session, now=now)
    with staging_tables(db, _staging) as connection:
        with connection.begin(), client:
            lines = client.stream_ndjson(
                STREAM_PATH, {"since": start.isoformat(), "as_of": now.isoformat()}
            )
            day_rows, members = _stage(connection, lines)
        with applying(connection) as session:
            _keep(session, start)
            session.add(
                ActivityPull(
                    pulled_at=now,
                    since=start,
                    through=now.date(),
                    day_rows=day_rows,
                    members=members,
                )
            )
    scores = rescore(db, now=now, after="pulling community activity")
    return ActivityPulled(start, now.date(), day_rows, members, scores)


def default_since(session: Session, *, now: datetime) -> date:
    last = session.scalar(select(func.max(ActivityPull.through)))
    if last is None:
        return now.date() - timedelta(days=HISTORY_DAYS)
    return min(last, now.date()) - timedelta(days=OVERLAP_DAYS)


def _stage(connection: Connection, lines: Iterator[dict[str, Any]]) -> tuple[int, int]:
    """Stage the stream's daily and member lines (values in stored form, a batch per
    statement); returns how many of each there were."""
    staging = _StagedLines(connection)
    days_staged = members_staged = 0
    for batch in batches(lines):
        days: list[tuple[Any, ...]] = []
        members: list[tuple[Any, ...]] = []
        for line in batch:
            key = legacy_contact_key(line.get("member"))
            if key is None:
                continue
            try:
                if "day" in line:
                    days.append(staging.day_row(key, line))
                else:
                    members.append(staging.member_row(key, line))
            except (KeyError, TypeError, ValueError) as error:
                raise ConnectionFailed(
                    "unexpected", f"the activity stream sent a line kith cannot read: {line!r:.200}"
                ) from error
        staging.days.write(days)
        staging.members.write(members)
        days_staged, members_staged = days_staged + len(days), members_staged + len(members)
    return days_staged, members_staged


class _StagedLines:
    """The staging tables' writers, and lines as rows in the form the backend stores."""

    def __init__(self, connection: Connection) -> None:
        session = Session(connection)  # joins the connection's transaction
        dialect = sqlite if connection.dialect.name == "sqlite" else postgresql
        self.days = BatchWriter(session, dialect.insert(IncomingDay), DAY_COLUMNS)
        self.members = BatchWriter(session, dialect.insert(IncomingMember), MEMBER_COLUMNS)
        self.stored_time = time_parser(session)

    def day_row(self, key: str, line: dict[str, Any]) -> tuple[Any, ...]:
        count, day = line["count"], date.fromisoformat(line["day"])
        if not isinstance(count, int) or count < 0:
            raise ValueError(f"count {count!r}")
        # SQLite stores a date as its ISO text
        return key, day.isoformat() if self.days.is_sqlite else day, str(line["type"]), count

    def member_row(self, key: str, line: dict[str, Any]) -> tuple[Any, ...]:
        joined = line.get("joined_at")
        return key, self.stored_time(joined) if joined else None


def _keep(session: Session, since: date) -> None:
    """The staged days replace those kept from `since` on; the members' join dates follow the
    staged ones (added, changed, removed)."""
    kept, day = CommunityActivityDay, IncomingDay.c
    session.execute(delete(kept).where(kept.day >= since))
    session.execute(
        insert(kept).from_select(
            ["remote_id", "day", "activity_type", "count"],
            select(day.remote_id, day.day, day.activity_type, func.sum(day.count))
            .where(day.day >= since)
            .group_by(day.remote_id, day.day, day.activity_type),
        )
    )
    member = CommunityMember
    incoming = (
        select(IncomingMember.c.remote_id, func.max(IncomingMember.c.joined_at).label("joined_at"))
        .group_by(IncomingMember.c.remote_id)
        .subquery()
    )
    session.execute(delete(member).where(~exists().where(incoming.c.remote_id == member.remote_id)))
    session.execute(
        update(member)
        .where(
            member.remote_id == incoming.c.remote_id,
            member.joined_at.is_distinct_from(incoming.c.joined_at),
        )
        .values(joined_at=incoming.c.joined_at)
    )
    session.execute(
        insert(member).from_select(
            ["remote_id", "joined_at"],
            select(incoming.c.remote_id, incoming.c.joined_at).where(
                ~exists().where(member.remote_id == incoming.c.remote_id)
            ),
        )
    )
    # scoring and reports read these next: let the planner see what the pull changed
    refresh_statistics(session, kept.__tablename__, member.__tablename__)


def run_pull(
    db: Database, settings: Settings, *, now: datetime | None = None, since: date | None = None
) -> ActivityPulled:
    """Pull with the settings' secret key and read deadline, at `now` (default: the current
    time)."""
    return pull_activity(
        db,
        SecretBox.from_settings(settings),
        now=now or utcnow(),
        since=since,
        deadline=settings.community_read_deadline_seconds,
    )


def pull_for_marketing(db: Database, *, now: datetime, settings: Settings) -> None:
    """The scheduler's daily pull (marketing's `pull_activity` port)."""
    run_pull(db, settings, now=now)
