"""Target groups: static membership by CSV, compound Include/Exclude logic, cycles (deletion:
test_deletion.py)."""

from __future__ import annotations

from itertools import product

import pytest
from sqlalchemy.orm import Session

from kith.db import Database
from kith.errors import Conflict, InvalidInput, NotFound
from kith.marketing.groups import target_groups as groups
from kith.marketing.groups.folders import create_folder, ensure_folder, list_folders
from kith.marketing.groups.members import change_members
from kith.marketing.models import TargetGroup
from kith.marketing.subscriber_import import import_subscribers
from tests.support.import_files import NOW, csv_rows

# Subscribers s0..s9; static groups with these members (by number).
MEMBERS = {"A": {0, 1, 2, 3, 4}, "B": {3, 4, 5, 6}, "C": {4, 6, 7, 8}, "D": {1, 8, 9}}


def remote_id(number: int) -> str:
    return f"R{number}"


@pytest.fixture
def world(marketing_db: Database) -> Database:
    """Ten subscribers and the static groups of MEMBERS."""
    with marketing_db.transaction() as session:
        lines = [f"s{n}@example.org,{remote_id(n)},,," for n in range(10)]
        import_subscribers(
            session, csv_rows("email,remote_id,first_name,last_name,status", *lines), now=NOW
        )
        for name, numbers in MEMBERS.items():
            group = groups.create_group(session, name, now=NOW)
            add(session, group, numbers)
    return marketing_db


def add(session: Session, group: TargetGroup, numbers: set[int], remove: bool = False) -> None:
    rows = csv_rows("remote_id", *(remote_id(n) for n in sorted(numbers)))
    report = change_members(session, group, rows, now=NOW, remove=remove)
    assert report.rejected == []


def numbers_in(db: Database, name: str) -> set[int]:
    with db.session() as session:
        group = groups.get_group(session, name)
        found = {int(s.remote_id[1:]) for s in groups.iter_members(session, group) if s.remote_id}
        assert groups.count_members(session, group) == len(found)
        return found


def combine(names: list[str], mode: str) -> set[int]:
    sets = [MEMBERS[name] for name in names]
    return set.intersection(*sets) if mode == "all" else set.union(*sets)


@pytest.mark.parametrize(("include_mode", "exclude_mode"), list(product(("all", "any"), repeat=2)))
def test_a_compound_is_its_included_groups_minus_its_excluded_ones(
    world: Database, include_mode: str, exclude_mode: str
) -> None:
    with world.transaction() as session:
        groups.create_compound_group(
            session,
            "Mix",
            include=["A", "B"],
            include_mode=include_mode,
            exclude=["C", "D"],
            exclude_mode=exclude_mode,
            now=NOW,
        )

    expected = combine(["A", "B"], include_mode) - combine(["C", "D"], exclude_mode)
    assert numbers_in(world, "Mix") == expected


def test_compounds_nest_and_follow_changes_to_the_groups_they_name(world: Database) -> None:
    with world.transaction() as session:
        groups.create_compound_group(
            session, "A or B", include=["A", "B"], include_mode="any", now=NOW
        )
        groups.create_compound_group(
            session,
            "Outer",
            include=["A or B", "C"],
            include_mode="all",
            exclude=["D"],
            exclude_mode="any",
            now=NOW,
        )
    assert numbers_in(world, "Outer") == ((MEMBERS["A"] | MEMBERS["B"]) & MEMBERS["C"]) - {1, 8, 9}

    with world.transaction() as session:
        add(session, groups.get_group(session, "C"), {0})
        add(session, groups.get_group(session, "D"), {4})

    assert numbers_in(world, "Outer") == {0, 6}


def test_a_definition_that_would_contain_itself_is_refused_with_its_path(
    world: Database,
) -> None:
    with world.transaction() as session:
        groups.create_compound_group(session, "X", include=["A"], include_mode="any", now=NOW)
        groups.create_compound_group(session, "Y", include=["X", "B"], include_mode="any", now=NOW)
        groups.create_compound_group(session, "Z", include=["C"], include_mode="any", now=NOW)

    for include, exclude, path in (
        (["Y"], [], "X → Y → X"),
        (["A"], ["Y"], "X → Y → X"),
        (["X"], [], "X → X"),
    ):
        with pytest.raises(InvalidInput) as refused, world.transaction() as session:
            groups.change_compound_group(
                session, "X", include=include, include_mode="any", exclude=exclude
            )
        assert str(refused.value) == f"the compound group 'X' would contain itself: {path}"

    with world.transaction() as session:  # Z is no cycle: it only shares no path back to X
        groups.change_compound_group(session, "X", include=["A", "Z"], include_mode="all")
    assert numbers_in(world, "X") == {4}
    assert numbers_in(world, "Y") == {4} | MEMBERS["B"]


def test_compound_definitions_are_checked(world: Database) -> None:
    cases = [
        ({"include": [], "include_mode": "any"}, "at least one group in its Include section"),
        ({"include": ["A"], "include_mode": "most"}, "the include mode must be 'all'"),
        ({"include": ["A", "a"], "include_mode": "any"}, "names the group 'A' twice"),
        ({"include": ["A"], "include_mode": "any", "exclude": ["Nope"]}, "no target group"),
    ]
    for arguments, message in cases:
        with pytest.raises((InvalidInput, NotFound), match=message), world.transaction() as s:
            groups.create_compound_group(s, "Bad", now=NOW, **arguments)  # type: ignore[arg-type]
    with world.session() as session:
        assert "Bad" not in [summary.group.name for summary in groups.list_groups(session)]


def test_the_group_list_shows_kind_folder_and_member_count(world: Database) -> None:
    with world.transaction() as session:
        create_folder(session, "Events", now=NOW)
        groups.create_compound_group(
            session, "A not B", include=["A"], include_mode="any", exclude=["B"], now=NOW
        )
        groups.create_group(session, "Gala", folder="events", now=NOW)

    with world.session() as session:
        listed = [summary.as_json() for summary in groups.list_groups(session)]
        in_events = [s.group.name for s in groups.list_groups(session, folder="Events")]
        folders = {folder.name: folder.group_count for folder in list_folders(session)}

    assert [(g["name"], g["folder"], g["kind"], g["member_count"]) for g in listed] == [
        ("Gala", "Events", "static", 0),
        ("A", "Main", "static", 5),
        ("A not B", "Main", "compound", 3),
        ("B", "Main", "static", 4),
        ("C", "Main", "static", 4),
        ("D", "Main", "static", 3),
    ]
    assert listed[2]["include"] == {"groups": ["A"], "mode": "any"}
    assert listed[2]["exclude"] == {"groups": ["B"], "mode": "any"}
    assert all(g["sync_status"] is None and g["last_synced_at"] is None for g in listed)
    assert in_events == ["Gala"]
    assert folders == {"Main": 5, "Events": 1}


def test_group_names_are_unique_in_any_case_and_folders_must_exist(world: Database) -> None:
    with pytest.raises(Conflict, match="already exists"), world.transaction() as session:
        groups.create_group(session, "a", now=NOW)
    missing = pytest.raises(NotFound, match="no folder is named 'Nowhere'")
    with missing, world.transaction() as session:
        groups.create_group(session, "New", folder="Nowhere", now=NOW)


def test_a_feature_folder_is_created_once(world: Database) -> None:
    with world.transaction() as session:
        first = ensure_folder(session, "Online Community", now=NOW).id
    with world.transaction() as session:
        assert ensure_folder(session, "online community", now=NOW).id == first


def test_membership_rows_are_added_once_removed_and_rejected_with_reasons(
    world: Database,
) -> None:
    with world.transaction() as session:
        group = groups.get_group(session, "D")
        added = change_members(
            session,
            group,
            csv_rows(
                "email,remote_id",
                "S2@example.org,",  # by email, any case
                ",R1",  # already a member
                "ghost@example.org,",
                ",R404",
                ",",
                "bad-address,",
            ),
            now=NOW,
        )
        removed = change_members(
            session, group, csv_rows("remote_id", "R9", "R5"), now=NOW, remove=True
        )

    assert added.as_json() == {
        "added": 1,
        "already_members": 1,
        "rejected": [
            {"line": 4, "reason": "no subscriber has the email 'ghost@example.org'"},
            {"line": 5, "reason": "no subscriber has the Remote ID 'R404'"},
            {"line": 6, "reason": "names no subscriber: both email and remote_id are empty"},
            {
                "line": 7,
                "reason": "'bad-address' is not a valid email address: "
                "An email address must have an @-sign.",
            },
        ],
    }
    assert removed.as_json() == {"removed": 1, "not_members": 1, "rejected": []}
    assert numbers_in(world, "D") == {1, 2, 8}


def test_only_static_groups_change_by_hand(world: Database) -> None:
    with world.transaction() as session:
        groups.create_group(session, "Posted", kind="community", list_key="L1", now=NOW)
        groups.create_compound_group(session, "AB", include=["A", "B"], include_mode="all", now=NOW)

    for name, reason in (("Posted", "filled only by the connection"), ("AB", "compound group")):
        with pytest.raises(InvalidInput, match=reason), world.transaction() as session:
            change_members(
                session, groups.get_group(session, name), csv_rows("remote_id", "R1"), now=NOW
            )
