"""Importing members and memberships: upserts, custom fields, legacy keys, rejected rows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from kith.community.ingest import ImportRejected, import_members, import_memberships
from kith.community.models import Community, CustomField, Member, Membership
from kith.csvimport import rows as ingest_rows
from kith.db import Database
from kith.errors import InvalidInput
from tests.support.import_files import (
    MEMBERS_HEADER,
    MEMBERSHIPS_HEADER,
    NOW,
    csv_rows,
    member_line,
)


def members_by_key(db: Database) -> dict[str, Member]:
    with db.session() as session:
        return {member.contact_key: member for member in session.scalars(select(Member))}


def test_members_import_stores_every_column(community_db: Database) -> None:
    with community_db.transaction() as session:
        report = import_members(
            session,
            csv_rows(
                MEMBERS_HEADER,
                "C1,AMS-1,ann@example.org,Ann,Lee,Acme,CEO,Staff,"
                "2024-01-02,2026-06-01T09:30:00+02:00,TRUE",
                "C2,,,,,,,,,,",
            ),
            now=NOW,
        )

    assert report.as_json() == {"imported": 2, "updated": 0, "duplicates": 0, "rejected": []}
    members = members_by_key(community_db)
    ann = members["C1"]
    assert (ann.legacy_contact_key, ann.email, ann.first_name, ann.last_name) == (
        "AMS-1",
        "ann@example.org",
        "Ann",
        "Lee",
    )
    assert (ann.company, ann.title, ann.member_type, ann.is_super_admin) == (
        "Acme",
        "CEO",
        "Staff",
        True,
    )
    assert ann.joined_at == datetime(2024, 1, 2, tzinfo=UTC)  # a bare date is 00:00 UTC
    assert ann.last_login_at == datetime(2026, 6, 1, 7, 30, tzinfo=UTC)  # offset converted
    empty = members["C2"]
    assert (empty.legacy_contact_key, empty.email, empty.joined_at) == (None, None, None)
    assert empty.is_super_admin is False


def test_stored_member_times_compare_correctly_in_sql(community_db: Database) -> None:
    with community_db.transaction() as session:
        import_members(
            session,
            csv_rows(
                MEMBERS_HEADER,
                "C1,,,,,,,,2026-06-01T23:30:00-02:00,,",  # 2026-06-02 01:30 UTC
                "C2,,,,,,,,2026-06-02 00:30:00,,",  # naive: UTC
                "C3,,,,,,,,2026-06-01T23:59:59.999999Z,,",
            ),
            now=NOW,
        )

    with community_db.session() as session:
        joined_since = session.scalars(
            select(Member.contact_key)
            .where(Member.joined_at >= datetime(2026, 6, 2, tzinfo=UTC))
            .order_by(Member.joined_at)
        ).all()
    assert joined_since == ["C2", "C1"]


def test_members_are_upserted_by_contact_key(community_db: Database) -> None:
    with community_db.transaction() as session:
        import_members(
            session, csv_rows(MEMBERS_HEADER, member_line("C1", "AMS-1", "a@x.org")), now=NOW
        )
    with community_db.transaction() as session:
        report = import_members(
            session,
            csv_rows(MEMBERS_HEADER, member_line("C1", "", "new@x.org"), member_line("C2")),
            now=NOW,
        )

    assert (report.imported, report.updated) == (1, 1)
    members = members_by_key(community_db)
    assert members["C1"].email == "new@x.org"
    assert members["C1"].legacy_contact_key is None  # an empty cell is NULL
    assert len(members) == 2


def test_a_contact_key_repeated_later_in_the_file_updates_the_member(
    community_db: Database,
) -> None:
    with community_db.transaction() as session:
        report = import_members(
            session,
            csv_rows(
                MEMBERS_HEADER,
                member_line("C1", email="first@x.org"),
                member_line("C1", email="second@x.org"),
            ),
            now=NOW,
        )

    assert (report.imported, report.updated, report.rejected) == (1, 1, [])
    assert members_by_key(community_db)["C1"].email == "second@x.org"


def test_malformed_emails_are_imported_for_a_later_sync_to_report(community_db: Database) -> None:
    with community_db.transaction() as session:
        report = import_members(
            session, csv_rows(MEMBERS_HEADER, member_line("C1", email="not an email@@")), now=NOW
        )

    assert report.rejected == []
    assert members_by_key(community_db)["C1"].email == "not an email@@"


def test_other_columns_become_custom_fields_that_later_imports_merge(
    community_db: Database,
) -> None:
    with community_db.transaction() as session:
        import_members(
            session,
            csv_rows(f"{MEMBERS_HEADER},Chapter,Dues Paid", f"{member_line('C1')},North,yes"),
            now=NOW,
        )
    with community_db.transaction() as session:
        import_members(
            session,
            csv_rows(f"{MEMBERS_HEADER},Dues Paid,Shirt", f"{member_line('C1')},,XL"),
            now=NOW,
        )

    # Chapter is kept (not in the second file), the empty Dues Paid cell cleared the field
    assert members_by_key(community_db)["C1"].custom_fields == {"Chapter": "North", "Shirt": "XL"}
    with community_db.session() as session:
        names = session.scalars(select(CustomField.name).order_by(CustomField.name)).all()
    assert names == ["Chapter", "Dues Paid", "Shirt"]


def test_a_file_without_custom_columns_keeps_the_custom_fields(community_db: Database) -> None:
    with community_db.transaction() as session:
        import_members(
            session, csv_rows(f"{MEMBERS_HEADER},Chapter", f"{member_line('C1')},North"), now=NOW
        )
    with community_db.transaction() as session:
        import_members(
            session, csv_rows(MEMBERS_HEADER, member_line("C1", email="a@x.org")), now=NOW
        )

    assert members_by_key(community_db)["C1"].custom_fields == {"Chapter": "North"}


def test_bad_member_rows_are_rejected_with_their_line_and_reason(community_db: Database) -> None:
    with community_db.transaction() as session:
        import_members(session, csv_rows(MEMBERS_HEADER, member_line("OLD", "AMS-9")), now=NOW)
    with community_db.transaction() as session:
        report = import_members(
            session,
            csv_rows(
                MEMBERS_HEADER,
                member_line("C1", "AMS-1"),  # line 2: fine
                member_line("", "AMS-2"),
                "C3,,,,,,,,last tuesday,,",
                "C4,,,,,,,,,2026-13-01,",
                "C5,,,,,,,,,,maybe",
                "C6,too,few",
                member_line("C7", "AMS-9"),
                member_line("C8", "AMS-1"),
                member_line("C9", "x" * 101),
            ),
            now=NOW,
        )

    assert report.rejected == [
        {"line": 3, "reason": "missing contact_key"},
        {"line": 4, "reason": "joined_at: unparseable date 'last tuesday'"},
        {"line": 5, "reason": "last_login_at: unparseable date '2026-13-01'"},
        {
            "line": 6,
            "reason": "is_super_admin must be true, false, 1, 0, yes, no or empty, not 'maybe'",
        },
        {"line": 7, "reason": "expected 11 fields, found 3"},
        {"line": 8, "reason": "legacy_contact_key 'AMS-9' is already used by member 'OLD'"},
        {"line": 9, "reason": "legacy_contact_key 'AMS-1' is already used by member 'C1'"},
        {"line": 10, "reason": "legacy_contact_key is longer than 100 characters"},
    ]
    assert report.imported == 1
    assert set(members_by_key(community_db)) == {"OLD", "C1"}


def test_a_legacy_key_given_up_earlier_in_the_file_can_be_taken(community_db: Database) -> None:
    with community_db.transaction() as session:
        import_members(session, csv_rows(MEMBERS_HEADER, member_line("A", "AMS-1")), now=NOW)
    with community_db.transaction() as session:
        report = import_members(
            session,
            csv_rows(
                MEMBERS_HEADER,
                member_line("B", "AMS-1"),  # A still holds it: rejected
                member_line("A", "AMS-2"),
                member_line("B", "AMS-1"),  # now free
            ),
            now=NOW,
        )

    assert report.rejected == [
        {"line": 2, "reason": "legacy_contact_key 'AMS-1' is already used by member 'A'"}
    ]
    members = members_by_key(community_db)
    assert (members["A"].legacy_contact_key, members["B"].legacy_contact_key) == ("AMS-2", "AMS-1")


def test_rows_are_checked_against_earlier_batches(
    community_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest_rows, "BATCH_SIZE", 2)
    with community_db.transaction() as session:
        report = import_members(
            session,
            csv_rows(
                MEMBERS_HEADER,
                member_line("A", "AMS-1"),
                member_line("B"),
                member_line("C", "AMS-1"),  # second batch
                member_line("A", email="a@x.org"),
                member_line("D"),  # third batch
            ),
            now=NOW,
        )

    assert report.rejected == [
        {"line": 4, "reason": "legacy_contact_key 'AMS-1' is already used by member 'A'"}
    ]
    assert (report.imported, report.updated) == (3, 1)


def test_a_header_missing_columns_is_refused_naming_them(community_db: Database) -> None:
    header = MEMBERS_HEADER.replace(",email", "").replace(",title", "")
    with (
        pytest.raises(InvalidInput, match="lacks the columns email, title"),
        community_db.transaction() as session,
    ):
        import_members(session, csv_rows(header), now=NOW)


def test_a_strict_import_with_a_bad_row_imports_nothing(community_db: Database) -> None:
    with pytest.raises(ImportRejected) as raised, community_db.transaction() as session:
        import_members(
            session,
            csv_rows(MEMBERS_HEADER, member_line("C1"), "C2,,,,,,,,soon,,", member_line("")),
            now=NOW,
            strict=True,
        )

    assert raised.value.report.as_json() == {
        "imported": 0,
        "updated": 0,
        "duplicates": 0,
        "rejected": [
            {"line": 3, "reason": "joined_at: unparseable date 'soon'"},
            {"line": 4, "reason": "missing contact_key"},
        ],
    }
    assert members_by_key(community_db) == {}


def test_memberships_create_each_community_once_whatever_its_case(
    community_db: Database,
) -> None:
    with community_db.transaction() as session:
        import_members(
            session, csv_rows(MEMBERS_HEADER, member_line("A"), member_line("B")), now=NOW
        )
        report = import_memberships(
            session,
            csv_rows(
                MEMBERSHIPS_HEADER,
                "A,Chapter North,staff,2025-03-01",
                "B,chapter north,,",
                "A,Young Professionals,member,",
            ),
            now=NOW,
        )

    assert (report.imported, report.updated, report.rejected) == (3, 0, [])
    with community_db.session() as session:
        communities = session.execute(select(Community.name, Community.created_at)).all()
        north = session.execute(
            select(Member.contact_key, Membership.role, Membership.joined_at)
            .join(Membership, Membership.member_id == Member.id)
            .join(Community, Community.id == Membership.community_id)
            .where(Community.name == "Chapter North")
            .order_by(Member.contact_key)
        ).all()
    assert sorted(communities) == [("Chapter North", NOW), ("Young Professionals", NOW)]
    assert [tuple(row) for row in north] == [
        ("A", "staff", datetime(2025, 3, 1, tzinfo=UTC)),
        ("B", None, None),
    ]


def test_memberships_are_upserted_and_bad_rows_rejected(community_db: Database) -> None:
    with community_db.transaction() as session:
        import_members(session, csv_rows(MEMBERS_HEADER, member_line("A")), now=NOW)
        import_memberships(session, csv_rows(MEMBERSHIPS_HEADER, "A,North,member,"), now=NOW)
    with community_db.transaction() as session:
        report = import_memberships(
            session,
            csv_rows(
                MEMBERSHIPS_HEADER,
                "A,NORTH,staff,",
                "NOBODY,Ghost Town,member,",
                "A,,member,",
                "A,South,member,someday",
            ),
            now=NOW,
        )

    assert (report.imported, report.updated) == (0, 1)
    assert report.rejected == [
        {"line": 3, "reason": "unknown contact_key 'NOBODY'"},
        {"line": 4, "reason": "missing community"},
        {"line": 5, "reason": "joined_at: unparseable date 'someday'"},
    ]
    with community_db.session() as session:
        assert session.scalars(select(Membership.role)).all() == ["staff"]
        # no community is created by a rejected row
        assert session.scalars(select(Community.name)).all() == ["North"]
        assert session.scalar(select(func.count()).select_from(Membership)) == 1
