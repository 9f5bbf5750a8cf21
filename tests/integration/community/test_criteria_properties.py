"""List Builder criteria, property-checked: random trees select what the reference selects.

A random but fixed community (NULLs, blank and mixed-case text, custom fields, events exactly on
window boundaries) is loaded once per backend; Hypothesis then draws criteria trees up to depth 3
and compares the SQL compilation with `criteria_reference`, a plain-Python reading of the issue.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from kith.community.criteria import InvalidCriteria
from kith.community.models import (
    BUILTIN_ACTIVITY_TYPES,
    ActivityEvent,
    ActivityType,
    CustomField,
    Member,
)
from kith.community.saved_criteria import member_ids_query
from kith.db import Database
from tests.support.community_world import NOW, add_community, add_member, join
from tests.support.criteria_reference import (
    DATE_FIELDS,
    TEXT_FIELDS,
    CommunityRecords,
    EventRecord,
    MembershipRecord,
    PersonRecord,
    selected_contact_keys,
)

SEED = 20260615
MICROSECOND = timedelta(microseconds=1)
WITHIN_DAYS = (1, 7, 30, 90, 365)
# the days trees name in since/until and date-field tests; events and member dates fall on,
# just before and after their midnights
DAYS = tuple(NOW.date() - timedelta(days=back) for back in (-1, 0, 1, 7, 30, 31, 90, 180, 365))
REGISTERED_TYPE = "webinar_watched"
ACTIVITY_TYPES = (*BUILTIN_ACTIVITY_TYPES, REGISTERED_TYPE)
TYPES_WITH_EVENTS = (
    "login",
    "thread_started",
    "discussion_reply",
    "event_attended",
    "badge_awarded",
    REGISTERED_TYPE,
)
COMMUNITIES = ("Chapter North", "Young Professionals", "Board of Directors")
ROLES = ("member", "Member", "STAFF", "staff", "Chair", None)
CUSTOM_FIELDS = ("region", "tier", "chapter_size", "nickname")  # nobody has a nickname

# Fields whose values are ASCII letters and digits only (or blank), so that alphabetical lt/gt
# means the same under any collation a PostgreSQL server may use.
ALPHABETICAL_FIELDS = ("first_name", "member_type", "tier")
ALPHABETICAL_PROBES = (
    "a",
    "ann",
    "anne",
    "b",
    "bob2",
    "gold",
    "m",
    "member",
    "retired2",
    "s",
    "x",
    "2",
)
VALUE_POOLS: dict[str, tuple[str | None, ...]] = {
    "first_name": ("Ann", "ann", "ANNE", "Bob", "bob2", "Cat", "Zoe", "Member", "", "  ", None),
    "last_name": ("Smith", "smith-jones", "O'Brien", "van der Berg", "Lee", "", "  ", None),
    "company": (
        "Acme Corp",
        "acme",
        "ACME Widgets",
        " Acme ",
        "100% Natural",
        "under_score Ltd",
        "back\\slash",
        "a/b testing",
        "Initech",
        "",
        "  ",
        None,
    ),
    "title": ("Director", "director of ops", "VP", "Chair-Elect", "42", "", None),
    "member_type": ("Member", "member", "STAFF", "Staff", "Student", "Retired2", "", None),
    "region": ("North", "north", "SOUTH", "East Coast", "", "  ", None),
    "tier": ("gold", "Gold", "SILVER", "bronze2", "", None),
    "chapter_size": ("12", "9", "007", "-3", "2.5", "12.0", " 7 ", "1.50", "n/a", "abc", "", None),
}
NUMBERS = (-5, -3, -0.5, 0, 1.5, 2.5, 7, 9, 12, 12.0, 100)


# -- the community ---------------------------------------------------------------------------


def boundary_instants() -> list[datetime]:
    """Instants on the edges of every window a generated tree can ask about."""
    instants = [NOW]
    for day in DAYS:
        midnight = datetime.combine(day, time.min, tzinfo=UTC)
        instants += [midnight, midnight - MICROSECOND, midnight + timedelta(hours=12)]
    for days in WITHIN_DAYS:
        edge = NOW - timedelta(days=days)
        instants += [edge, edge - MICROSECOND]
    return instants


def random_instant(rng: random.Random) -> datetime:
    draw = rng.random()
    if draw < 0.4:
        return rng.choice(boundary_instants())
    if draw < 0.9:
        return NOW - timedelta(seconds=round(rng.uniform(0, 500 * 86400), 6))
    return NOW + timedelta(seconds=round(rng.uniform(0, 3 * 86400), 6))  # not yet "now"


def build_records(seed: int, size: int = 48, event_count: int = 420) -> CommunityRecords:
    """A random community that is the same on every run for the same seed."""
    rng = random.Random(seed)
    people = []
    for number in range(1, size + 1):
        contact_key = f"m{number:03d}"
        custom = {
            name: value
            for name in ("region", "tier", "chapter_size")
            if (value := rng.choice(VALUE_POOLS[name])) is not None
        }
        people.append(
            PersonRecord(
                contact_key=contact_key,
                legacy_contact_key=(
                    ""
                    if number == 5
                    else rng.choice([f"AMS{number:04d}", f"ams{number:04d}", None])
                ),
                email=rng.choice(
                    [f"{contact_key}@example.org", f"{contact_key.upper()}@Example.ORG", "", None]
                ),
                first_name=rng.choice(VALUE_POOLS["first_name"]),
                last_name=rng.choice(VALUE_POOLS["last_name"]),
                company=rng.choice(VALUE_POOLS["company"]),
                title=rng.choice(VALUE_POOLS["title"]),
                member_type=rng.choice(VALUE_POOLS["member_type"]),
                joined_at=None if rng.random() < 0.25 else random_instant(rng),
                last_login_at=None if rng.random() < 0.25 else random_instant(rng),
                is_super_admin=rng.random() < 0.15,
                custom_fields=custom,
            )
        )
    active = people[6:]  # the first six members never do anything
    weights = [rng.choice((1, 1, 2, 5)) for _ in active]
    events = [
        EventRecord(
            contact_key=rng.choices(active, weights)[0].contact_key,
            type=rng.choice(TYPES_WITH_EVENTS),
            occurred_at=random_instant(rng),
            community=None if rng.random() < 0.3 else rng.choice(COMMUNITIES),
        )
        for _ in range(event_count)
    ]
    memberships = [
        MembershipRecord(person.contact_key, community, rng.choice(ROLES))
        for person in people
        for community in rng.sample(COMMUNITIES, rng.choice((0, 0, 1, 1, 2, 3)))
    ]
    return CommunityRecords(
        people=people,
        events=events,
        memberships=memberships,
        communities=list(COMMUNITIES),
        activity_types=list(ACTIVITY_TYPES),
        custom_field_names=list(CUSTOM_FIELDS),
    )


RECORDS = build_records(SEED)


def load_records(session: Session, records: CommunityRecords) -> None:
    """Write the in-memory community to the database through the ORM."""
    session.add(ActivityType(id=50, name=REGISTERED_TYPE, builtin=False))
    session.add_all(CustomField(name=name) for name in records.custom_field_names)
    communities = {name: add_community(session, name) for name in records.communities}
    members = {}
    for person in records.people:
        fields = {
            name: getattr(person, name)
            for name in (*TEXT_FIELDS, *DATE_FIELDS, "is_super_admin", "custom_fields")
            if name != "contact_key"
        }
        members[person.contact_key] = add_member(session, person.contact_key, **fields)
    for membership in records.memberships:
        join(
            session,
            members[membership.contact_key],
            communities[membership.community],
            membership.role,
        )
    type_ids = {
        name: id_ for name, id_ in session.execute(select(ActivityType.name, ActivityType.id))
    }
    session.add_all(
        ActivityEvent(
            member_id=members[event.contact_key].id,
            type_id=type_ids[event.type],
            occurred_at=event.occurred_at,
            community_id=communities[event.community].id if event.community else None,
        )
        for event in records.events
    )
    session.flush()


@pytest.fixture
def community(community_db: Database) -> Iterator[Session]:
    """A read session on the database holding RECORDS."""
    with community_db.transaction() as session:
        load_records(session, RECORDS)
    with community_db.session() as session:
        yield session


def sql_selection(session: Session, criteria: Any) -> set[str]:
    ids = member_ids_query(session, criteria, now=NOW)
    return set(session.scalars(select(Member.contact_key).where(Member.id.in_(ids))))


# -- criteria trees --------------------------------------------------------------------------


def text_probes(records: CommunityRecords) -> list[str]:
    """Values worth searching for: stored text, its pieces, and LIKE's wildcard characters."""
    stored = [getattr(person, name) for person in records.people for name in TEXT_FIELDS]
    stored += [value for person in records.people for value in person.custom_fields.values()]
    probes = {"%", "_", "\\", "/", "o'", "100%", "r_s", "zzz", "example.org", " acme", "n/a"}
    for value in stored:
        if value and value.strip():
            probes.update({value, value[:1], value[:3], value[1:4], value[-4:]})
    return sorted(probe for probe in probes if probe.strip())


def cased(texts: Any) -> st.SearchStrategy[str]:
    """One of `texts` as stored, or lower-, upper- or swapped-case."""
    return st.builds(
        lambda text, change: change(text),
        st.sampled_from(sorted(texts)),
        st.sampled_from([str, str.lower, str.upper, str.swapcase]),
    )


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def present(**keys: Any) -> dict[str, Any]:
    """A criteria node with only the keys that were drawn (None: left out)."""
    return {key: value for key, value in keys.items() if value is not None}


@st.composite
def activity_tests(draw: st.DrawFn) -> dict[str, Any]:
    types = draw(
        st.just("any")
        | st.sampled_from(ACTIVITY_TYPES)
        | st.lists(st.sampled_from(ACTIVITY_TYPES), min_size=1, max_size=3, unique=True)
    )
    maximum = draw(optional(st.integers(0, 5)))
    minimum = draw(optional(st.integers(0, 4 if maximum is None else maximum)))
    since, until = sorted(
        draw(st.lists(st.sampled_from(DAYS), min_size=2, max_size=2, unique=True))
    )
    criteria = present(
        activity=types,
        min=minimum,
        max=maximum,
        since=draw(st.sampled_from([None, since.isoformat()])),
        until=draw(st.sampled_from([None, until.isoformat()])),
        within_days=draw(optional(st.sampled_from(WITHIN_DAYS))),
        community=draw(optional(cased(COMMUNITIES))),
    )
    if maximum is None and draw(st.booleans()):
        criteria["max"] = None  # "max": null, no cap
    return criteria


def member_of_tests() -> st.SearchStrategy[dict[str, Any]]:
    roles = cased(["member", "staff", "chair", "treasurer"])
    return st.builds(
        lambda community, role: present(member_of=community, role=role),
        cased(COMMUNITIES),
        optional(roles),
    )


def text_field_tests(records: CommunityRecords) -> st.SearchStrategy[dict[str, Any]]:
    fields = st.sampled_from((*TEXT_FIELDS, *CUSTOM_FIELDS))
    compared = fields
    probe = cased(text_probes(records))
    single = st.builds(
        lambda name, op, value: {"field": name, "op": op, "value": value},
        compared,
        st.sampled_from(["eq", "contains", "starts_with"]),
        probe,
    )
    several = st.builds(
        lambda name, values: {"field": name, "op": "in", "value": values},
        compared,
        st.lists(probe, min_size=1, max_size=3),
    )
    unequal = st.builds(
        lambda name, value: {"field": name, "op": "ne", "value": value}, fields, probe
    ) | st.builds(
        lambda name, values: {"field": name, "op": "not_in", "value": values},
        fields,
        st.lists(probe, min_size=1, max_size=3),
    )
    alphabetical = st.builds(
        lambda name, op, value: {"field": name, "op": op, "value": value},
        st.sampled_from(ALPHABETICAL_FIELDS) if compared is fields else compared,
        st.sampled_from(["lt", "lte", "gt", "gte"]),
        cased(ALPHABETICAL_PROBES),
    )
    numeric = st.builds(
        lambda name, op, value: {"field": name, "op": op, "value": value},
        st.sampled_from(["chapter_size", "chapter_size", "title", "region"]),
        st.sampled_from(["lt", "lte", "gt", "gte"]),
        st.sampled_from(NUMBERS),
    )
    return single | several | unequal | alphabetical | numeric | emptiness_tests(fields)


def date_field_tests() -> st.SearchStrategy[dict[str, Any]]:
    fields = st.sampled_from(DATE_FIELDS)
    day = st.sampled_from(DAYS).map(date.isoformat)
    compare_ops = ["eq", "lt", "lte", "gt", "gte"]
    single = st.builds(
        lambda name, op, value: {"field": name, "op": op, "value": value},
        fields,
        st.sampled_from(["ne", *compare_ops]),
        day,
    )
    several = st.builds(
        lambda name, op, values: {"field": name, "op": op, "value": values},
        fields,
        st.sampled_from(["not_in"] + (["in"] if compare_ops else [])),
        st.lists(day, min_size=1, max_size=3),
    )
    return single | several | emptiness_tests(fields)


def boolean_field_tests() -> st.SearchStrategy[dict[str, Any]]:
    fields = st.just("is_super_admin")
    return st.builds(
        lambda op, value: {"field": "is_super_admin", "op": op, "value": value},
        st.sampled_from(["eq", "ne"]),
        st.booleans(),
    ) | emptiness_tests(fields)


def emptiness_tests(fields: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda name, op: {"field": name, "op": op},
        fields,
        st.sampled_from(["is_empty", "is_not_empty"]),
    )


def leaf_criteria(records: CommunityRecords) -> st.SearchStrategy[dict[str, Any]]:
    return (
        activity_tests()
        | member_of_tests()
        | text_field_tests(records)
        | date_field_tests()
        | boolean_field_tests()
    )


def criteria_trees(records: CommunityRecords, depth: int = 3) -> st.SearchStrategy[dict[str, Any]]:
    """Valid criteria trees with at most `depth` levels of all/any/not above the leaves."""
    leaves = leaf_criteria(records)
    if depth == 0:
        return leaves
    below = criteria_trees(records, depth - 1)
    return (
        leaves
        | st.lists(below, min_size=1, max_size=3).map(lambda children: {"all": children})
        | st.lists(below, min_size=1, max_size=3).map(lambda children: {"any": children})
        | criteria_trees(records, depth - 1).map(lambda child: {"not": child})
    )


TREES = criteria_trees(RECORDS)


# -- properties ------------------------------------------------------------------------------


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(criteria=TREES)
def test_sql_selects_the_members_the_reference_selects(
    community: Session, criteria: dict[str, Any]
) -> None:
    expected = selected_contact_keys(criteria, RECORDS, now=NOW)
    selected = sql_selection(community, criteria)
    assert selected == expected, (
        f"SQL also selects {sorted(selected - expected)}, misses {sorted(expected - selected)}"
    )


# -- invalid trees ---------------------------------------------------------------------------


def located_nodes(criteria: dict[str, Any], path: str = "criteria") -> list[tuple[str, Any]]:
    """Every node of a tree with the path an error about it starts with."""
    found: list[tuple[str, Any]] = [(path, criteria)]
    for kind in ("all", "any"):
        for index, child in enumerate(criteria.get(kind, [])):
            found += located_nodes(child, f"{path}.{kind}[{index}]")
    if "not" in criteria:
        found += located_nodes(criteria["not"], f"{path}.not")
    return found


def corruptions(criteria: dict[str, Any]) -> list[dict[str, Any]]:
    """Ways to make one node invalid: each a dict of keys to overwrite in that node."""
    for kind in ("all", "any"):
        if kind in criteria:
            return [{kind: []}, {kind: {}}, {kind: criteria[kind][0]}]
    if "not" in criteria:
        return [{"not": {}}, {"not": []}, {"not": None}, {"not": "login"}]
    if "member_of" in criteria:
        return [{"member_of": "Nowhere"}, {"member_of": 3}, {"role": 5}, {"colour": "red"}]
    if "activity" in criteria:
        return [
            {"activity": "posted"},
            {"activity": ["login", "posted"]},
            {"activity": []},
            {"activity": 7},
            {"min": "2"},
            {"min": -1},
            {"min": True},
            {"max": "3"},
            {"max": 1.5},
            {"within_days": "30"},
            {"within_days": -7},
            {"since": "2026-02-30"},
            {"until": "yesterday"},
            {"since": 20260101},
            {"community": "Nowhere"},
            {"community": ["Chapter North"]},
            {"colour": "red"},
        ]
    wrong_names: list[dict[str, Any]] = [
        {"field": "colour"},
        {"field": 5},
        {"op": "like"},
        {"op": None},
    ]
    return wrong_names + [{"value": value} for value in wrong_values(criteria)]


def wrong_values(criteria: dict[str, Any]) -> list[Any]:
    """Values of the wrong type for a field test's field and op."""
    name, op = criteria["field"], criteria["op"]
    if op in ("is_empty", "is_not_empty"):
        return ["x", True, ["x"]]
    if name == "is_super_admin":
        return ["yes", 1, None, [True]]
    if op in ("in", "not_in"):
        return [[], "acme", [True], [None], {"x": 1}]
    if name in DATE_FIELDS:
        return ["yesterday", "2026-13-01", 20260101, True, None, ["2026-01-01"]]
    return [True, None, {"x": 1}, ["acme"]]


@st.composite
def corrupted_trees(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    """A valid tree with exactly one node made invalid, and that node's path."""
    criteria = copy.deepcopy(draw(TREES))
    path, target = draw(st.sampled_from(located_nodes(criteria)))
    target.update(draw(st.sampled_from(corruptions(target))))
    return criteria, path


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(corrupted=corrupted_trees())
def test_an_invalid_tree_is_rejected_naming_the_bad_node(
    community: Session, corrupted: tuple[dict[str, Any], str]
) -> None:
    criteria, bad_node = corrupted
    with pytest.raises(InvalidCriteria) as raised:
        member_ids_query(community, criteria, now=NOW)
    assert raised.value.path.startswith("criteria")
    assert raised.value.path == bad_node or raised.value.path.startswith(f"{bad_node}."), (
        f"error at {raised.value.path!r}, expected at or below {bad_node!r}: {raised.value}"
    )


# -- edge cases once found by the properties above, kept as plain examples ------------------


def one_of_each(session: Session, **fields_by_key: dict[str, Any]) -> None:
    session.add(CustomField(name="size"))
    for contact_key, fields in fields_by_key.items():
        add_member(session, contact_key, **fields)


@pytest.mark.parametrize(
    "criteria",
    [
        {"not": {"field": "joined_at", "op": "eq", "value": "2026-06-16"}},
        {"not": {"field": "company", "op": "eq", "value": "acme"}},
        {"not": {"all": [{"field": "size", "op": "contains", "value": "1"}]}},
    ],
)
def test_not_includes_members_without_the_value(
    community_db: Database, criteria: dict[str, Any]
) -> None:
    with community_db.transaction() as session:
        one_of_each(session, blank={"email": None})
    with community_db.session() as session:
        assert sql_selection(session, criteria) == {"blank"}


def test_text_compares_case_insensitively_beyond_ascii(community_db: Database) -> None:
    with community_db.transaction() as session:
        one_of_each(session, emile={"first_name": "Émile"}, asa={"first_name": "ÅSA"})
    with community_db.session() as session:
        assert sql_selection(session, {"field": "first_name", "op": "eq", "value": "Émile"}) == {
            "emile"
        }
        assert sql_selection(session, {"field": "first_name", "op": "eq", "value": "émile"}) == {
            "emile"
        }
        assert sql_selection(
            session, {"field": "first_name", "op": "contains", "value": "åsa"}
        ) == {"asa"}


def test_a_number_padded_with_whitespace_compares_as_that_number(
    community_db: Database,
) -> None:
    with community_db.transaction() as session:
        one_of_each(
            session,
            spaces={"custom_fields": {"size": " 7 "}},
            newline={"custom_fields": {"size": "12\n"}},
            tab={"custom_fields": {"size": "\t5"}},
        )
    with community_db.session() as session:
        assert sql_selection(session, {"field": "size", "op": "gt", "value": 1}) == {
            "spaces",
            "newline",
            "tab",
        }


# -- the oracle and the community it reads ---------------------------------------------------


def test_the_reference_reads_windows_as_the_issue_words_them() -> None:
    edge = NOW - timedelta(days=30)
    midnight = datetime(2026, 1, 10, tzinfo=UTC)
    records = CommunityRecords(
        people=[PersonRecord(key) for key in ("on_edge", "just_before", "idle")],
        events=[
            EventRecord("on_edge", "login", edge, None),
            EventRecord("on_edge", "login", midnight, "Chapter North"),
            EventRecord("just_before", "login", edge - MICROSECOND, None),
            EventRecord("just_before", "login", midnight - MICROSECOND, None),
        ],
        memberships=[],
        communities=["Chapter North"],
        activity_types=["login"],
        custom_field_names=[],
    )

    def selected(criteria: dict[str, Any]) -> set[str]:
        return selected_contact_keys(criteria, records, now=NOW)

    assert selected({"activity": "login", "within_days": 30}) == {"on_edge"}
    assert selected({"activity": "login", "since": "2026-01-10", "until": "2026-01-11"}) == {
        "on_edge"
    }
    assert selected({"activity": "login", "until": "2026-01-10"}) == {"just_before"}
    assert selected({"activity": "any", "max": 0}) == {"idle"}
    assert selected({"activity": "login", "community": "chapter NORTH"}) == {"on_edge"}
    assert selected({"activity": "login", "max": 1}) == {"idle"}


def test_the_generated_community_has_the_edge_cases_the_properties_need() -> None:
    instants = {event.occurred_at for event in RECORDS.events}
    assert NOW - timedelta(days=30) in instants
    assert any(instant.time() == time.min for instant in instants)
    assert any(instant > NOW for instant in instants)
    active = {event.contact_key for event in RECORDS.events}
    assert any(person.contact_key not in active for person in RECORDS.people)
    companies = {person.company for person in RECORDS.people}
    assert {None, "", "  "} <= companies
    assert {None, ""} <= {person.custom_fields.get("chapter_size") for person in RECORDS.people}
    assert None in {person.joined_at for person in RECORDS.people}
    assert {None, "Member", "member"} <= {m.role for m in RECORDS.memberships}
