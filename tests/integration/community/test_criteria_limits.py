"""Criteria limits, on SQLite and PostgreSQL: a tree beyond one is refused naming its node, a
tree at all of them is evaluated, and a saved list that cannot be evaluated fails alone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import reduce
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from kith.community import saved_criteria
from kith.community.automation import create_rule
from kith.community.criteria import InvalidCriteria
from kith.community.lists import create_list, get_list, list_summaries, update_list
from kith.community.models import CustomField
from kith.community.saved_criteria import count_members, preview
from kith.db import Database
from tests.support.community_world import NOW, add_events, add_list_unchecked, add_member

COMPANY = {"field": "company", "op": "eq", "value": "Co 7"}


def companies(count: int, first: int = 0) -> dict[str, Any]:
    return {"field": "company", "op": "in", "value": [f"Co {first + n}" for n in range(count)]}


def nested(depth: int) -> dict[str, Any]:
    """COMPANY under `depth - 1` nots: `depth` nodes from the root to the condition."""
    return reduce(lambda node, _: {"not": node}, range(depth - 1), COMPANY)


@pytest.fixture
def community(community_db: Database) -> Database:
    """ann (company Co 7, joined 2026-06-01, a login yesterday), bob (Other), an admin."""
    with community_db.transaction() as session:
        add_member(session, "admin", is_super_admin=True)
        ann = add_member(
            session, "ann", company="Co 7", joined_at=datetime(2026, 6, 1, 23, 30, tzinfo=UTC)
        )
        add_member(session, "bob", company="Other")
        add_events(session, ann, "login", NOW - timedelta(days=1))
    return community_db


@pytest.mark.parametrize(
    ("criteria", "refusal"),
    [
        pytest.param(
            {"all": [{"activity": "any"}, companies(1_000_000)]},
            "criteria.all[1].field.value: 1,000,000 values; a condition takes at most 1,000",
            id="a million values in an in",
        ),
        pytest.param(
            companies(1_001),
            "criteria.field.value: 1,001 values; a condition takes at most 1,000",
            id="1,001 values in an in",
        ),
        pytest.param(
            {"any": [companies(1_000, first=1_000 * n) for n in range(11)]},
            "criteria.any[10].field.value: the criteria hold more than 10,000 values",
            id="11,000 values in all",
        ),
        pytest.param(
            {"field": "company", "op": "contains", "value": "x" * 20_000_000},
            "criteria.field.value: a text of 20,000,000 characters; a value has at most 1,000",
            id="a 20 MB contains",
        ),
        pytest.param(
            {"member_of": "é" * 1_001},
            "criteria.member_of: a text of 1,001 characters; a value has at most 1,000",
            id="a community name of 1,001 characters",
        ),
        pytest.param(
            nested(1_000),
            "criteria" + ".not" * 20 + ": the criteria are nested more than 20 deep",
            id="nested 1,000 deep",
        ),
        pytest.param(
            nested(21),
            "criteria" + ".not" * 20 + ": the criteria are nested more than 20 deep",
            id="nested 21 deep",
        ),
        pytest.param(
            {"any": [COMPANY] * 100_000},
            "criteria.any[99]: the criteria have more than 100 conditions and groups",
            id="100,000 conditions",
        ),
        pytest.param(
            {"field": "company", "op": "gt", "value": 10**30},
            "criteria.field.value: a number beyond ±1,000,000,000,000,000",
            id="a 31-digit number",
        ),
        pytest.param(
            {"field": "company", "op": "eq", "value": "Co\x007"},
            "criteria.field.value: a text holding a NUL character",
            id="a NUL character",
        ),
        pytest.param(
            {"field": "company", "op": "in", "value": ["Co 7", "Co \ud800"]},
            "criteria.field.value[1]: a text holding a NUL character or a lone surrogate",
            id="a lone surrogate",
        ),
    ],
)
def test_criteria_beyond_a_limit_are_refused_naming_the_node_and_nothing_is_saved(
    community: Database, criteria: dict[str, Any], refusal: str
) -> None:
    with community.transaction() as session, pytest.raises(InvalidCriteria) as refused:
        create_list(session, name="Too much", criteria=criteria, by="admin", now=NOW)

    assert str(refused.value).startswith(refusal)
    with community.session() as session:
        assert list_summaries(session, now=NOW) == []


def test_updates_previews_and_rules_are_held_to_the_same_limits(community: Database) -> None:
    too_many = companies(1_001)
    refusal = r"^criteria\.field\.value: 1,001 values"
    with community.transaction() as session:
        create_list(session, name="Companies", criteria=companies(10), by="admin", now=NOW)
        with pytest.raises(InvalidCriteria, match=refusal):
            update_list(session, "Companies", by="admin", now=NOW, criteria=too_many)
        with pytest.raises(InvalidCriteria, match=refusal):
            preview(session, too_many, now=NOW)
        with pytest.raises(InvalidCriteria, match=refusal):
            create_rule(
                session, name="Rule", criteria=too_many, action="award_badge", by="admin", now=NOW
            )
        assert get_list(session, "Companies").criteria == companies(10)


def tree_at_every_limit() -> dict[str, Any]:
    """100 nodes, 20 deep, 10,000 values, texts of 1,000 characters; it selects ann alone."""
    in_companies = {"any": [companies(1_000, first=1_000 * n) for n in range(5)]}
    days = [(date(1990, 1, 1) + timedelta(days=n)).isoformat() for n in range(5_000)]
    not_on_days = [
        {"field": "joined_at", "op": "not_in", "value": days[1_000 * n : 1_000 * (n + 1)]}
        for n in range(5)
    ]
    deepest: dict[str, Any] = {"field": "company", "op": "contains", "value": "é" * 1_000}
    for level in range(18):  # nine nots: not contains
        deepest = {"not": deepest} if level % 2 == 0 else {"all": [deepest]}
    # one `all` of activity tests alone is a set of members; under an `any`, a count each
    active = {"all": [{"activity": "any", "within_days": 2 + n} for n in range(35)]}
    counted = {"any": [{"activity": "login", "within_days": 2 + n, "max": 5} for n in range(32)]}
    return {"all": [in_companies, *not_on_days, deepest, active, counted]}


def test_a_tree_at_every_limit_at_once_is_evaluated(community: Database) -> None:
    one_more = tree_at_every_limit()
    one_more["all"].append(COMPANY)

    with community.session() as session:
        count, sample = preview(session, tree_at_every_limit(), now=NOW)
        with pytest.raises(InvalidCriteria, match=r"^criteria\.all\[9\]: .* than 100 conditions"):
            preview(session, one_more, now=NOW)

    assert (count, [member.contact_key for member in sample]) == (1, ["ann"])


def test_a_date_in_matches_the_whole_utc_day_of_each_of_its_1000_dates(
    community: Database,
) -> None:
    days = [(date(2026, 6, 1) - timedelta(days=d)).isoformat() for d in range(1_000)]
    with community.session() as session:
        count = count_members(session, {"field": "joined_at", "op": "in", "value": days}, now=NOW)

    assert count == 1  # ann, joined 2026-06-01 at 23:30 UTC


def test_a_list_saved_before_the_limits_shows_its_error_and_the_others_their_counts(
    community: Database,
) -> None:
    with community.transaction() as session:
        create_list(session, name="A", criteria=COMPANY, by="admin", now=NOW)
        add_list_unchecked(session, "B", companies(5_000))
        create_list(session, name="C", criteria=COMPANY, by="admin", now=NOW)

    with community.session() as session:
        summaries = list_summaries(session, now=NOW)

    assert [(item.name, item.member_count, item.error) for item in summaries] == [
        ("A", 1, None),
        ("B", None, "criteria.field.value: 5,000 values; a condition takes at most 1,000"),
        ("C", 1, None),
    ]


def test_a_list_the_database_fails_to_count_fails_alone(
    community: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL a failed statement ends the transaction: the lists after it still count."""
    count = saved_criteria.count_members
    broken = {"field": "company", "op": "eq", "value": "broken"}

    def count_or_fail(session: Session, criteria: Any, *, now: datetime) -> int:
        if criteria == broken:
            session.execute(text("SELECT no_such_column FROM members"))
        return count(session, criteria, now=now)

    monkeypatch.setattr(saved_criteria, "count_members", count_or_fail)
    with community.transaction() as session:
        for name, criteria in (("A", COMPANY), ("B", broken), ("C", COMPANY)):
            create_list(session, name=name, criteria=criteria, by="admin", now=NOW)

    with community.session() as session:
        summaries = list_summaries(session, now=NOW)

    assert [(item.name, item.member_count) for item in summaries] == [
        ("A", 1),
        ("B", None),
        ("C", 1),
    ]
    assert summaries[1].error is not None and "no_such_column" in summaries[1].error


def test_a_member_number_too_long_for_the_database_is_no_number(community: Database) -> None:
    with community.transaction() as session:
        session.add(CustomField(name="visits"))
        add_member(session, "long", custom_fields={"visits": "9" * 400})
        add_member(session, "large", custom_fields={"visits": "9" * 255})
        add_member(session, "small", custom_fields={"visits": "3"})
    greater = {"field": "visits", "op": "gt", "value": 5}

    with community.session() as session:
        count, sample = preview(session, greater, now=NOW)

    assert (count, [member.contact_key for member in sample]) == (1, ["large"])
