"""Importing memberships: a member's place in a community, created with the community if new."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kith.community.ingest.communities import COMMUNITY_NAME_LENGTH, CommunityIds
from kith.community.ingest.member_ids import MemberIds
from kith.community.models import Membership
from kith.csvimport.bulk import BatchWriter, among, dialect_insert
from kith.csvimport.report import ImportReport
from kith.csvimport.rows import (
    Header,
    Row,
    check_width,
    optional_text,
    optional_time,
    parsed_batches,
    read_header,
    required_text,
)
from kith.csvimport.timestamps import StoredTime, TimeParser, time_parser
from kith.db import refresh_statistics

MEMBERSHIP_COLUMNS = ("contact_key", "community", "role", "joined_at")
_ROLE_LENGTH = 100
_WRITTEN = ("member_id", "community_id", "role", "joined_at")


@dataclass
class _MembershipRow:
    line: int
    contact_key: str
    community: str
    role: str | None
    joined_at: StoredTime | None


def import_memberships(
    session: Session, rows: Iterable[Row], *, now: datetime, strict: bool = False
) -> ImportReport:
    """Create or update memberships from CSV rows (the header first), a batch at a time.

    A community is created (at `now`) the first time a valid row names it; names match in any
    case. Other columns are ignored. With `strict`, any rejected row raises ImportRejected so
    that nothing is imported.
    """
    stream = iter(rows)
    header = read_header(stream, MEMBERSHIP_COLUMNS)
    statement = dialect_insert(session, Membership)
    writer = BatchWriter(
        session,
        statement.on_conflict_do_update(
            index_elements=["member_id", "community_id"],
            set_={"role": statement.excluded.role, "joined_at": statement.excluded.joined_at},
        ),
        _WRITTEN,
    )
    parse_time = time_parser(session)
    members = MemberIds(session)
    communities = CommunityIds(session)
    report = ImportReport()

    def parse(line: int, row: Row) -> _MembershipRow:
        return _parse(line, row, header, parse_time)

    for parsed in parsed_batches(stream, parse, report):
        _write(session, writer, parsed, report, members, communities, now)
    refresh_statistics(session, "memberships", "communities")
    return report.settle(strict=strict)


def _parse(line: int, row: Row, header: Header, parse_time: TimeParser) -> _MembershipRow:
    check_width(row, header)
    positions = header.positions
    contact_key, community, role, joined_at = (row[positions[name]] for name in MEMBERSHIP_COLUMNS)
    return _MembershipRow(
        line=line,
        contact_key=required_text(contact_key, "contact_key"),
        community=required_text(community, "community", COMMUNITY_NAME_LENGTH),
        role=optional_text(role, "role", _ROLE_LENGTH),
        joined_at=optional_time(joined_at, "joined_at", parse_time),
    )


def _write(
    session: Session,
    writer: BatchWriter,
    rows: Sequence[_MembershipRow],
    report: ImportReport,
    members: MemberIds,
    communities: CommunityIds,
    now: datetime,
) -> None:
    if not rows:
        return
    member_ids = members.resolve({row.contact_key for row in rows})
    found = {member_ids[row.contact_key] for row in rows if row.contact_key in member_ids}
    existing = set(
        session.connection()
        .execute(
            select(Membership.member_id, Membership.community_id).where(
                among(session, Membership.member_id, found)
            )
        )
        .tuples()
    )
    values = []
    for row in rows:
        member_id = member_ids.get(row.contact_key)
        if member_id is None:
            report.reject(row.line, f"unknown contact_key {row.contact_key!r}")
            continue
        community_id = communities.find_or_create(row.community, now=now)
        if (member_id, community_id) in existing:
            report.updated += 1
        else:
            report.imported += 1
            existing.add((member_id, community_id))
        values.append((member_id, community_id, row.role, row.joined_at))
    writer.write(values)
