"""Importing subscribers: upsert by Remote ID, else by email; shared emails; rejected rows."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from kith.csvimport import rows as import_rows
from kith.csvimport.report import ImportRejected
from kith.db import Database
from kith.marketing.models import Subscriber
from kith.marketing.subscriber_import import import_subscribers
from kith.marketing.subscribers import find_subscriber, set_status
from tests.support.import_files import NOW, csv_rows

HEADER = "email,remote_id,first_name,last_name,status"


def load(db: Database, *lines: str, strict: bool = False) -> dict[str, object]:
    with db.bulk_transaction() as session:
        return import_subscribers(session, csv_rows(*lines), now=NOW, strict=strict).as_json()


def stored(db: Database) -> list[tuple[str, str | None, str | None, str]]:
    """(email, remote_id, first_name, status) of every subscriber, oldest first."""
    with db.session() as session:
        return [
            (s.email, s.remote_id, s.first_name, s.status)
            for s in session.scalars(select(Subscriber).order_by(Subscriber.id))
        ]


def test_an_email_is_stored_normalized_and_matched_in_any_case(marketing_db: Database) -> None:
    load(marketing_db, HEADER, "Ann@Example.ORG,,Ann,,")
    report = load(marketing_db, HEADER, "ann@example.org,,Annie,,")

    assert report == {"imported": 0, "updated": 1, "duplicates": 0, "rejected": []}
    assert stored(marketing_db) == [("ann@example.org", None, "Annie", "subscribed")]


def test_two_subscribers_share_an_email_only_when_their_remote_ids_differ(
    marketing_db: Database,
) -> None:
    report = load(
        marketing_db,
        HEADER,
        "pat@example.org,R1,Pat,,",
        "pat@example.org,R2,Patricia,,",
        "solo@example.org,,Solo,,",
        "solo@example.org,,Solo again,,",
    )

    assert report == {"imported": 3, "updated": 1, "duplicates": 0, "rejected": []}
    assert stored(marketing_db) == [
        ("pat@example.org", "R1", "Pat", "subscribed"),
        ("pat@example.org", "R2", "Patricia", "subscribed"),
        ("solo@example.org", None, "Solo again", "subscribed"),
    ]


def test_a_row_without_remote_id_naming_a_shared_email_is_rejected_as_ambiguous(
    marketing_db: Database,
) -> None:
    load(marketing_db, HEADER, "pat@example.org,R1,,,", "pat@example.org,R2,,,")

    report = load(marketing_db, HEADER, "pat@example.org,,Who,,")

    assert report["rejected"] == [
        {
            "line": 2,
            "reason": "2 subscribers have the email 'pat@example.org' (Remote IDs 'R1', 'R2'); "
            "give a remote_id to say which one",
        }
    ]
    assert [row[2] for row in stored(marketing_db)] == [None, None]


def test_a_remote_id_adopts_the_subscriber_known_only_by_that_email(
    marketing_db: Database,
) -> None:
    load(marketing_db, HEADER, "lee@example.org,,Lee,,")

    report = load(marketing_db, HEADER, "lee@example.org,AMS-9,Lee,,")

    assert report["imported"] == 0 and report["updated"] == 1
    assert stored(marketing_db) == [("lee@example.org", "AMS-9", "Lee", "subscribed")]


def test_a_remote_id_may_not_move_onto_the_email_of_a_subscriber_without_one(
    marketing_db: Database,
) -> None:
    load(marketing_db, HEADER, "lee@example.org,,Lee,,", "kim@example.org,R1,Kim,,")

    report = load(marketing_db, HEADER, "lee@example.org,R1,Kim,,")

    [rejected] = report["rejected"]  # type: ignore[misc]
    assert rejected["line"] == 2
    assert "belongs to a subscriber without a Remote ID" in rejected["reason"]
    assert stored(marketing_db) == [
        ("lee@example.org", None, "Lee", "subscribed"),
        ("kim@example.org", "R1", "Kim", "subscribed"),
    ]


def test_bad_statuses_and_malformed_emails_are_rejected_with_their_lines(
    marketing_db: Database,
) -> None:
    report = load(
        marketing_db,
        HEADER,
        "ok@example.org,R1,,,unsubscribed",
        "not-an-email,R2,,,",
        "two@@example.org,R3,,,",
        "ok2@example.org,R4,,,gone",
        ",R5,,,",
        "short@example.org,R6,,",
    )

    reasons = {row["line"]: row["reason"] for row in report["rejected"]}  # type: ignore[attr-defined]
    assert sorted(reasons) == [3, 4, 5, 6, 7]
    assert "'not-an-email' is not a valid email address" in reasons[3]
    assert "'two@@example.org' is not a valid email address" in reasons[4]
    assert reasons[5] == "status must be subscribed, unsubscribed, bounced or empty, not 'gone'"
    assert reasons[6] == "missing email"
    assert reasons[7] == "expected 5 fields, found 4"
    assert stored(marketing_db) == [("ok@example.org", "R1", None, "unsubscribed")]


def test_a_strict_import_with_a_bad_row_imports_nothing(marketing_db: Database) -> None:
    with pytest.raises(ImportRejected) as raised:
        load(marketing_db, HEADER, "ok@example.org,R1,,,", "bad,R2,,,", strict=True)

    assert [row["line"] for row in raised.value.report.rejected] == [3]
    assert stored(marketing_db) == []


def test_an_import_never_resubscribes_but_applies_unsubscribes(marketing_db: Database) -> None:
    load(marketing_db, HEADER, "a@example.org,A,,,", "b@example.org,B,,,")
    with marketing_db.transaction() as session:
        set_status(session, "A", "unsubscribed", now=NOW)

    load(marketing_db, HEADER, "a@example.org,A,,,subscribed", "b@example.org,B,,,bounced")
    load(marketing_db, HEADER, "b@example.org,B,,,")  # an empty status keeps the stored one

    assert [row[3] for row in stored(marketing_db)] == ["unsubscribed", "bounced"]
    with marketing_db.transaction() as session:
        set_status(session, "a@example.org", "subscribed", now=NOW)
    assert [row[3] for row in stored(marketing_db)] == ["subscribed", "bounced"]


def test_extra_columns_are_personalization_fields_set_kept_and_cleared(
    marketing_db: Database,
) -> None:
    load(marketing_db, f"{HEADER},city,chapter", "a@example.org,A,,,,Paris,North")
    load(marketing_db, f"{HEADER},city", "a@example.org,A,,,,")
    load(marketing_db, f"{HEADER},grade", "a@example.org,A,,,,B")

    with marketing_db.session() as session:
        assert find_subscriber(session, "A").fields == {"chapter": "North", "grade": "B"}


def test_a_missing_column_stops_the_import_before_any_row(marketing_db: Database) -> None:
    from kith.errors import InvalidInput

    with pytest.raises(InvalidInput, match="lacks the column status"):
        load(marketing_db, "email,remote_id,first_name,last_name", "a@example.org,A,,")
    assert stored(marketing_db) == []


# A reference model of the rules, applied one row at a time to a plain list, against which the
# batched import (three rows a batch, so rows meet their own batch's earlier rows) is checked.
EMAILS = ["a@example.org", "b@example.org", "c@example.org"]
REMOTE_IDS = [None, None, "R1", "R2", "R3"]
rows_strategy = st.lists(
    st.tuples(st.sampled_from(EMAILS), st.sampled_from(REMOTE_IDS), st.sampled_from("xyz")),
    min_size=1,
    max_size=12,
)


def reference_import(rows: list[tuple[str, str | None, str]]) -> list[tuple[str, str | None, str]]:
    people: list[dict[str, str | None]] = []
    for email, remote_id, name in rows:
        same_email = [p for p in people if p["email"] == email]
        if remote_id is None:
            if len(same_email) > 1:
                continue  # ambiguous: rejected
            target = same_email[0] if same_email else None
        else:
            target = next((p for p in people if p["remote_id"] == remote_id), None)
            without_remote_id = next((p for p in same_email if p["remote_id"] is None), None)
            if target is None:
                target = without_remote_id
            elif without_remote_id is not None and target["email"] != email:
                continue  # the email belongs to a subscriber without a Remote ID: rejected
        if target is None:
            target = {"email": email, "remote_id": remote_id}
            people.append(target)
        target["email"] = email
        target["remote_id"] = remote_id or target["remote_id"]
        target["name"] = name
    return [(str(p["email"]), p["remote_id"], str(p["name"])) for p in people]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(rows=rows_strategy)
def test_batched_imports_follow_the_rules_row_by_row(
    marketing_db: Database, monkeypatch: pytest.MonkeyPatch, rows: list[tuple[str, str | None, str]]
) -> None:
    monkeypatch.setattr(import_rows, "BATCH_SIZE", 3)
    with marketing_db.transaction() as session:
        session.execute(Subscriber.__table__.delete())

    load(marketing_db, HEADER, *(f"{email},{rid or ''},{name},," for email, rid, name in rows))

    assert [(e, r, n) for e, r, n, _ in stored(marketing_db)] == reference_import(rows)
    without_remote_id = [e for e, r, _, _ in stored(marketing_db) if r is None]
    others = [e for e, r, _, _ in stored(marketing_db) if r is not None]
    assert not set(without_remote_id) & set(others) and len(set(without_remote_id)) == len(
        without_remote_id
    )
