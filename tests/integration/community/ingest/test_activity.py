"""Importing activity events from files and API batches; registering activity types."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from kith.community.activity_types import add_activity_type, list_activity_types
from kith.community.ingest import (
    ImportRejected,
    import_activity,
    import_members,
    import_memberships,
    record_activity,
)
from kith.community.models import (
    BUILTIN_ACTIVITY_TYPES,
    ActivityEvent,
    ActivityType,
    Community,
    Member,
)
from kith.csvimport import rows as ingest_rows
from kith.db import Database
from kith.errors import Conflict, InvalidInput
from tests.support.import_files import (
    ACTIVITY_HEADER,
    MEMBERS_HEADER,
    MEMBERSHIPS_HEADER,
    NOW,
    csv_rows,
    member_line,
)


@pytest.fixture
def community(community_db: Database) -> Database:
    """Members A, B and A*100, and the community Chapter North."""
    with community_db.transaction() as session:
        import_members(
            session,
            csv_rows(MEMBERS_HEADER, member_line("A"), member_line("B"), member_line("A" * 100)),
            now=NOW,
        )
        import_memberships(session, csv_rows(MEMBERSHIPS_HEADER, "A,Chapter North,,"), now=NOW)
    return community_db


def stored_events(db: Database) -> list[tuple[Any, ...]]:
    """(event_id, contact_key, type, occurred_at, community) of every event, by time."""
    with db.session() as session:
        rows = session.execute(
            select(
                ActivityEvent.event_id,
                Member.contact_key,
                ActivityType.name,
                ActivityEvent.occurred_at,
                Community.name,
            )
            .join(Member, Member.id == ActivityEvent.member_id)
            .join(ActivityType, ActivityType.id == ActivityEvent.type_id)
            .outerjoin(Community, Community.id == ActivityEvent.community_id)
            .order_by(ActivityEvent.occurred_at)
        ).all()
    return [tuple(row) for row in rows]


def test_activity_import_stores_events_with_times_in_utc(community: Database) -> None:
    with community.transaction() as session:
        report = import_activity(
            session,
            csv_rows(
                ACTIVITY_HEADER,
                "e1,A,login,2026-06-01T10:00:00Z,",
                ",B,thread_started,2026-06-01 09:00:00,chapter north",  # naive: UTC
                "e3,A,discussion_reply,2026-06-01T13:30:00+05:00,Chapter North",
                ",B,badge_awarded,2026-06-02,",  # a date: 00:00 UTC
            ),
            now=NOW,
        )

    assert report.as_json() == {"imported": 4, "updated": 0, "duplicates": 0, "rejected": []}
    assert stored_events(community) == [
        ("e3", "A", "discussion_reply", datetime(2026, 6, 1, 8, 30, tzinfo=UTC), "Chapter North"),
        (None, "B", "thread_started", datetime(2026, 6, 1, 9, 0, tzinfo=UTC), "Chapter North"),
        ("e1", "A", "login", datetime(2026, 6, 1, 10, 0, tzinfo=UTC), None),
        (None, "B", "badge_awarded", datetime(2026, 6, 2, tzinfo=UTC), None),
    ]


def test_stored_event_times_compare_correctly_in_sql(community: Database) -> None:
    with community.transaction() as session:
        import_activity(
            session,
            csv_rows(
                ACTIVITY_HEADER,
                ",A,login,2026-06-01T23:59:59.999999Z,",
                ",A,login,2026-06-02T01:00:00+02:00,",  # 2026-06-01 23:00 UTC
                ",B,login,2026-06-02T00:00:00Z,",
                ",B,login,2026-06-01T20:30:00-04:00,",  # 2026-06-02 00:30 UTC
            ),
            now=NOW,
        )

    with community.session() as session:
        since_june_2 = session.scalars(
            select(ActivityEvent.occurred_at)
            .where(ActivityEvent.occurred_at >= datetime(2026, 6, 2, tzinfo=UTC))
            .order_by(ActivityEvent.occurred_at)
        ).all()
    assert since_june_2 == [
        datetime(2026, 6, 2, tzinfo=UTC),
        datetime(2026, 6, 2, 0, 30, tzinfo=UTC),
    ]


def test_columns_may_come_in_any_order_and_case(community: Database) -> None:
    with community.transaction() as session:
        report = import_activity(
            session,
            csv_rows("Type,Occurred_At,Contact_Key,Community,Event_ID", "login,2026-06-01,A,,e1"),
            now=NOW,
        )

    assert report.imported == 1
    assert stored_events(community) == [
        ("e1", "A", "login", datetime(2026, 6, 1, tzinfo=UTC), None)
    ]


def test_bad_activity_rows_are_rejected_with_their_line_and_reason(community: Database) -> None:
    with community.transaction() as session:
        report = import_activity(
            session,
            csv_rows(
                ACTIVITY_HEADER,
                ",A,login,2026-06-01T10:00:00Z,",  # line 2: fine
                ",NOBODY,login,2026-06-01T10:00:00Z,",
                ",A,posted_a_selfie,2026-06-01T10:00:00Z,",
                ",A,login,last tuesday,",
                ",A,login,,",
                ",A,login,2026-06-01T10:00:00Z,Atlantis",
                ",,login,2026-06-01T10:00:00Z,",
                ",A,login",
                "",  # a blank line is skipped
                f"{'e' * 201},A,login,2026-06-01T10:00:00Z,",
                f",{'A' * 101},login,2026-06-01T10:00:00Z,",  # not a truncated 'A...'
            ),
            now=NOW,
        )

    assert report.rejected == [
        {"line": 3, "reason": "unknown contact_key 'NOBODY'"},
        {"line": 4, "reason": "unknown activity type 'posted_a_selfie'"},
        {"line": 5, "reason": "occurred_at: unparseable date 'last tuesday'"},
        {"line": 6, "reason": "missing occurred_at"},
        {"line": 7, "reason": "unknown community 'Atlantis'"},
        {"line": 8, "reason": "missing contact_key"},
        {"line": 9, "reason": "expected 5 fields, found 3"},
        {"line": 11, "reason": "event_id is longer than 200 characters"},
        {"line": 12, "reason": f"unknown contact_key {'A' * 101!r}"},
    ]
    assert report.imported == 1
    assert len(stored_events(community)) == 1


def test_events_with_a_known_event_id_are_counted_as_duplicates_not_stored_twice(
    community: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest_rows, "BATCH_SIZE", 2)  # repeats across batches, too
    lines = (
        ACTIVITY_HEADER,
        "e1,A,login,2026-06-01T10:00:00Z,",
        "e2,A,login,2026-06-01T11:00:00Z,",
        "e1,A,login,2026-06-01T10:00:00Z,",  # repeated in the file
        ",B,login,2026-06-01T12:00:00Z,",  # no event_id: always stored
    )
    with community.transaction() as session:
        first = import_activity(session, csv_rows(*lines), now=NOW)
    with community.transaction() as session:
        again = import_activity(session, csv_rows(*lines), now=NOW)

    assert (first.imported, first.duplicates) == (3, 1)
    assert (again.imported, again.duplicates) == (1, 3)
    assert [event[0] for event in stored_events(community)] == ["e1", "e2", None, None]


def test_a_strict_activity_import_with_a_bad_row_imports_nothing(community: Database) -> None:
    with pytest.raises(ImportRejected) as raised, community.transaction() as session:
        import_activity(
            session,
            csv_rows(ACTIVITY_HEADER, ",A,login,2026-06-01,", ",A,login,2026-06-01,Atlantis"),
            now=NOW,
            strict=True,
        )

    assert raised.value.report.rejected == [{"line": 3, "reason": "unknown community 'Atlantis'"}]
    assert raised.value.report.imported == 0
    assert stored_events(community) == []


def test_a_header_missing_columns_is_refused_naming_them(community: Database) -> None:
    with (
        pytest.raises(InvalidInput, match="lacks the column occurred_at"),
        community.transaction() as session,
    ):
        import_activity(session, csv_rows("event_id,contact_key,type,community"), now=NOW)


def test_an_empty_file_is_refused(community: Database) -> None:
    with pytest.raises(InvalidInput, match="the file is empty"), community.transaction() as session:
        import_activity(session, iter([]), now=NOW)


def test_record_activity_stores_valid_events_and_reports_the_others_by_position(
    community: Database,
) -> None:
    with community.transaction() as session:
        report = record_activity(
            session,
            [
                {
                    "event_id": "e1",
                    "contact_key": "A",
                    "type": "login",
                    "occurred_at": "2026-06-01T10:00:00Z",
                },
                {
                    "contact_key": "B",
                    "type": "login",
                    "occurred_at": datetime(2026, 6, 1, 12, tzinfo=UTC),
                    "community": "Chapter North",
                },
                {"contact_key": "B", "type": "teleported", "occurred_at": "2026-06-01"},
                {"contact_key": 7, "type": "login", "occurred_at": "2026-06-01"},
                {
                    "event_id": "e1",
                    "contact_key": "A",
                    "type": "login",
                    "occurred_at": "2026-06-01T10:00:00Z",
                },
            ],
            now=NOW,
        )

    assert report.as_json() == {
        "imported": 2,
        "updated": 0,
        "duplicates": 1,
        "rejected": [
            {"line": 3, "reason": "unknown activity type 'teleported'"},
            {"line": 4, "reason": "contact_key must be a string, not int"},
        ],
    }
    assert stored_events(community) == [
        ("e1", "A", "login", datetime(2026, 6, 1, 10, tzinfo=UTC), None),
        (None, "B", "login", datetime(2026, 6, 1, 12, tzinfo=UTC), "Chapter North"),
    ]


def test_a_registered_activity_type_can_be_imported(community: Database) -> None:
    with community.transaction() as session:
        added = add_activity_type(session, "webinar_attended")
    with community.transaction() as session:
        report = import_activity(
            session, csv_rows(ACTIVITY_HEADER, ",A,webinar_attended,2026-06-01,"), now=NOW
        )
        names = [activity_type.name for activity_type in list_activity_types(session)]

    assert added.id == len(BUILTIN_ACTIVITY_TYPES) + 1 and not added.builtin
    assert report.imported == 1
    assert names == [*BUILTIN_ACTIVITY_TYPES, "webinar_attended"]


def test_an_activity_type_cannot_be_added_twice(community_db: Database) -> None:
    with (
        pytest.raises(Conflict, match="'login' already exists"),
        community_db.transaction() as session,
    ):
        add_activity_type(session, "login")


@pytest.mark.parametrize("name", ["Webinar", "webinar attended", "", "x" * 101, "café"])
def test_activity_type_names_use_lowercase_letters_digits_and_underscores(
    community_db: Database, name: str
) -> None:
    with (
        pytest.raises(InvalidInput, match="invalid activity type name"),
        community_db.transaction() as session,
    ):
        add_activity_type(session, name)
