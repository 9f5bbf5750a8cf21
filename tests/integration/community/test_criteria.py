"""List Builder criteria, every form, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kith.community.criteria import InvalidCriteria
from kith.community.models import CustomField, Member
from kith.community.saved_criteria import member_ids_query
from kith.db import Database
from tests.support.community_world import NOW, add_community, add_events, add_member, join

DAY = timedelta(days=1)


@pytest.fixture
def world(community_db: Database) -> Iterator[Session]:
    """ann: 3 replies in the last 30 days (2 in Chapter A), a thread 100 days ago.
    bob: 1 reply 10 days ago, staff in Chapter B. cat: nothing at all. dan: a login 95 days ago,
    a thread on 2026-01-10; Chapter A member and Chapter B staff. eve: super admin, 5 logins."""
    with community_db.transaction() as session:
        chapter_a = add_community(session, "Chapter A")
        chapter_b = add_community(session, "Chapter B")
        session.add(CustomField(name="chapter_size"))
        session.add(CustomField(name="region"))
        ann = add_member(
            session,
            "ann",
            first_name="Ann",
            company="Acme Corp",
            member_type="Member",
            joined_at=datetime(2025, 3, 1, 9, tzinfo=UTC),
            custom_fields={"region": "North", "chapter_size": "12"},
        )
        bob = add_member(
            session,
            "bob",
            first_name="Bob",
            company="acme",
            member_type="Staff",
            joined_at=datetime(2026, 6, 1, 23, 30, tzinfo=UTC),
            custom_fields={"region": "south", "chapter_size": "9"},
        )
        cat = add_member(session, "cat", first_name="Cat", company=None, email=None)
        dan = add_member(
            session,
            "dan",
            first_name="Dan",
            company="",
            member_type="Member",
            joined_at=datetime(2024, 12, 31, tzinfo=UTC),
            custom_fields={"chapter_size": "n/a"},
        )
        eve = add_member(session, "eve", first_name="Eve", is_super_admin=True)
        add_events(
            session, ann, "discussion_reply", NOW - 2 * DAY, NOW - 5 * DAY, community=chapter_a
        )
        add_events(session, ann, "discussion_reply", NOW - 29 * DAY)
        add_events(session, ann, "thread_started", NOW - 100 * DAY)
        add_events(session, bob, "discussion_reply", NOW - 10 * DAY, community=chapter_b)
        add_events(session, dan, "login", NOW - 95 * DAY)
        add_events(session, dan, "thread_started", datetime(2026, 1, 10, 8, tzinfo=UTC))
        add_events(session, eve, "login", *(NOW - k * DAY for k in range(1, 6)))
        join(session, ann, chapter_a, "member")
        join(session, bob, chapter_b, "Staff")
        join(session, dan, chapter_a, "member")
        join(session, dan, chapter_b, "staff")
        del cat
    with community_db.session() as session:
        yield session


def select_keys(session: Session, criteria: dict[str, Any], now: datetime = NOW) -> set[str]:
    ids = member_ids_query(session, criteria, now=now)
    return set(session.scalars(select(Member.contact_key).where(Member.id.in_(ids))))


def test_activity_counts_within_min_and_max(world: Session) -> None:
    assert select_keys(world, {"activity": "discussion_reply", "min": 3}) == {"ann"}
    assert select_keys(world, {"activity": "discussion_reply"}) == {"ann", "bob"}
    assert select_keys(world, {"activity": "discussion_reply", "min": 1, "max": 1}) == {"bob"}
    assert select_keys(world, {"activity": "login", "min": 2, "max": 5}) == {"eve"}


def test_max_zero_selects_members_with_no_activity_at_all(world: Session) -> None:
    assert select_keys(world, {"activity": "any", "max": 0}) == {"cat"}
    assert select_keys(world, {"activity": "thread_started", "max": 0}) == {"bob", "cat", "eve"}


def test_max_alone_means_at_most_with_zero_included(world: Session) -> None:
    assert select_keys(world, {"activity": "login", "max": 1}) == {"ann", "bob", "cat", "dan"}


def test_within_days_counts_only_recent_events(world: Session) -> None:
    posted_3_in_30 = {
        "activity": ["discussion_reply", "thread_started"],
        "min": 3,
        "within_days": 30,
    }
    assert select_keys(world, posted_3_in_30) == {"ann"}
    no_activity_in_90 = {"activity": "any", "max": 0, "within_days": 90}
    assert select_keys(world, no_activity_in_90) == {"cat", "dan"}


def test_within_days_moves_with_now(world: Session) -> None:
    later = NOW + 20 * DAY
    assert select_keys(world, {"activity": "discussion_reply", "within_days": 25}, later) == {"ann"}


def test_since_is_inclusive_and_until_exclusive(world: Session) -> None:
    on_the_day = {"activity": "thread_started", "since": "2026-01-10", "until": "2026-01-11"}
    assert select_keys(world, on_the_day) == {"dan"}
    assert select_keys(world, {"activity": "thread_started", "until": "2026-01-10"}) == set()
    assert select_keys(world, {"activity": "thread_started", "since": "2026-01-11"}) == {"ann"}


def test_community_filter_counts_only_that_communitys_events(world: Session) -> None:
    assert select_keys(
        world, {"activity": "discussion_reply", "community": "chapter a", "min": 2}
    ) == {"ann"}
    assert select_keys(world, {"activity": "any", "community": "Chapter B"}) == {"bob"}


def test_text_fields_compare_case_insensitively(world: Session) -> None:
    assert select_keys(world, {"field": "company", "op": "eq", "value": "ACME"}) == {"bob"}
    assert select_keys(world, {"field": "company", "op": "contains", "value": "acme"}) == {
        "ann",
        "bob",
    }
    assert select_keys(world, {"field": "company", "op": "starts_with", "value": "Acme "}) == {
        "ann"
    }
    assert select_keys(world, {"field": "member_type", "op": "in", "value": ["member"]}) == {
        "ann",
        "dan",
    }
    assert select_keys(world, {"field": "member_type", "op": "not_in", "value": ["staff"]}) == {
        "ann",
        "cat",
        "dan",
        "eve",
    }


def test_ne_includes_members_without_a_value(world: Session) -> None:
    assert select_keys(world, {"field": "company", "op": "ne", "value": "acme"}) == {
        "ann",
        "cat",
        "dan",
        "eve",
    }


def test_contains_treats_like_wildcards_literally(world: Session) -> None:
    assert select_keys(world, {"field": "company", "op": "contains", "value": "%"}) == set()


def test_empty_and_not_empty_treat_blank_text_as_empty(world: Session) -> None:
    assert select_keys(world, {"field": "company", "op": "is_empty"}) == {"cat", "dan", "eve"}
    assert select_keys(world, {"field": "email", "op": "is_not_empty"}) == {
        "ann",
        "bob",
        "dan",
        "eve",
    }


def test_date_fields_compare_as_dates(world: Session) -> None:
    assert select_keys(world, {"field": "joined_at", "op": "eq", "value": "2026-06-01"}) == {"bob"}
    assert select_keys(world, {"field": "joined_at", "op": "lte", "value": "2024-12-31"}) == {"dan"}
    assert select_keys(world, {"field": "joined_at", "op": "lt", "value": "2024-12-31"}) == set()
    assert select_keys(world, {"field": "joined_at", "op": "gt", "value": "2025-03-01"}) == {"bob"}
    assert select_keys(world, {"field": "joined_at", "op": "gte", "value": "2025-03-01"}) == {
        "ann",
        "bob",
    }
    assert select_keys(world, {"field": "joined_at", "op": "is_empty"}) == {"cat", "eve"}


def test_date_within_days_is_relative_to_now(world: Session) -> None:
    joined_lately = {"field": "joined_at", "op": "within_days", "value": 14}
    assert select_keys(world, joined_lately) == {"bob"}
    assert select_keys(world, joined_lately, NOW + 30 * DAY) == set()


def test_boolean_field(world: Session) -> None:
    assert select_keys(world, {"field": "is_super_admin", "op": "eq", "value": True}) == {"eve"}


def test_custom_fields_as_text_and_as_numbers(world: Session) -> None:
    assert select_keys(world, {"field": "region", "op": "eq", "value": "SOUTH"}) == {"bob"}
    assert select_keys(world, {"field": "region", "op": "is_empty"}) == {"cat", "dan", "eve"}
    assert select_keys(world, {"field": "chapter_size", "op": "gt", "value": 10}) == {"ann"}
    assert select_keys(world, {"field": "chapter_size", "op": "lte", "value": 12}) == {"ann", "bob"}


def test_a_number_value_matches_the_same_number_written_differently(world: Session) -> None:
    assert select_keys(world, {"field": "chapter_size", "op": "eq", "value": 12.0}) == {"ann"}
    assert select_keys(world, {"field": "chapter_size", "op": "in", "value": [9, "n/a"]}) == {
        "bob",
        "dan",
    }
    assert select_keys(world, {"field": "chapter_size", "op": "ne", "value": 12}) == {
        "bob",
        "cat",
        "dan",
        "eve",
    }


def test_member_of_with_and_without_role(world: Session) -> None:
    assert select_keys(world, {"member_of": "Chapter B"}) == {"bob", "dan"}
    assert select_keys(world, {"member_of": "chapter b", "role": "STAFF"}) == {"bob", "dan"}
    assert select_keys(world, {"member_of": "Chapter A", "role": "staff"}) == set()


def test_nested_not_any_all(world: Session) -> None:
    either_chapter_not_staff = {
        "all": [
            {"any": [{"member_of": "Chapter A"}, {"member_of": "Chapter B"}]},
            {"not": {"field": "member_type", "op": "eq", "value": "staff"}},
        ]
    }
    assert select_keys(world, either_chapter_not_staff) == {"ann", "dan"}
    nested = {
        "any": [
            {
                "all": [
                    {"activity": "login", "min": 5},
                    {"field": "is_super_admin", "op": "eq", "value": True},
                ]
            },
            {
                "not": {
                    "any": [
                        {"activity": "any"},
                        {"field": "first_name", "op": "eq", "value": "bob"},
                    ]
                }
            },
        ]
    }
    assert select_keys(world, nested) == {"eve", "cat"}


@pytest.mark.parametrize(
    ("criteria", "path", "fragment"),
    [
        ({"all": []}, "criteria.all", "non-empty list"),
        (
            {"any": [{"activity": "posted"}]},
            "criteria.any[0].activity",
            "unknown activity type 'posted'",
        ),
        (
            {"all": [{"field": "colour", "op": "eq", "value": "x"}]},
            "criteria.all[0].field",
            "unknown field 'colour'",
        ),
        (
            {"field": "company", "op": "like", "value": "x"},
            "criteria.field.op",
            "unknown op 'like'",
        ),
        (
            {"field": "joined_at", "op": "gt", "value": "yesterday"},
            "criteria.field.value",
            "unparseable date",
        ),
        (
            {"field": "joined_at", "op": "contains", "value": "2026"},
            "criteria.field.value",
            "does not apply",
        ),
        (
            {"field": "company", "op": "within_days", "value": 3},
            "criteria.field.value",
            "date fields",
        ),
        ({"field": "joined_at", "op": "within_days", "value": 0}, "criteria.field.value", "≥ 1"),
        (
            {"field": "company", "op": "in", "value": "acme"},
            "criteria.field.value",
            "non-empty list",
        ),
        (
            {"field": "is_super_admin", "op": "eq", "value": "yes"},
            "criteria.field.value",
            "true or false",
        ),
        ({"activity": "login", "min": -1}, "criteria.activity.min", "whole number"),
        ({"activity": "login", "min": 3, "max": 2}, "criteria.activity", "greater than max"),
        (
            {"activity": "login", "within_days": "30"},
            "criteria.activity.within_days",
            "whole number",
        ),
        (
            {"activity": "login", "since": "2026-02-30"},
            "criteria.activity.since",
            "unparseable date",
        ),
        (
            {"activity": "login", "community": "Nowhere"},
            "criteria.activity.community",
            "unknown community",
        ),
        ({"not": {"member_of": "Nowhere"}}, "criteria.not.member_of", "unknown community"),
        ({"activity": "login", "color": 1}, "criteria.activity", "unexpected key 'color'"),
        ({"every": []}, "criteria", "unknown criterion"),
        ([], "criteria", "expected an object"),
    ],
)
def test_invalid_criteria_name_the_offending_node(
    world: Session, criteria: Any, path: str, fragment: str
) -> None:
    with pytest.raises(InvalidCriteria) as raised:
        member_ids_query(world, criteria, now=NOW)
    assert raised.value.path == path
    assert fragment in str(raised.value)
