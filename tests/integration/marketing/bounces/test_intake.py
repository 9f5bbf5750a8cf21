"""The bounce intake on both backends: a mailing sent with VERP through a real SMTP server, then
bounces taken in: hard at once, soft after 3 in 14 days, complaints, the history with its
evidence, reactivation, sending skipping them, a message twice, a failure that loses nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from kith.config import Settings
from kith.db import Database
from kith.marketing.bounces import intake
from kith.marketing.bounces.intake import Arrival, BouncePolicy, retry, take_in, take_in_batch
from kith.marketing.bounces.models import Bounce, BounceMessage, StatusChange
from kith.marketing.groups.members import change_members
from kith.marketing.groups.target_groups import create_group
from kith.marketing.mailings.report import mailing_report
from kith.marketing.models import Subscriber
from kith.marketing.subscriber_import import import_subscribers
from kith.marketing.subscribers import find_subscriber, set_status, status_history
from tests.support.bounce_messages import arf_report, gmail_dsn, out_of_office, postfix_dsn
from tests.support.bounce_world import (
    BOUNCE_ADDRESS,
    SentMailing,
    add_readers,
    send_to_readers,
    with_bounce_address,
)
from tests.support.community_world import NOW
from tests.support.import_files import csv_rows
from tests.support.smtp_sink import SmtpSink


@pytest.fixture
def sent(marketing_db: Database, settings: Settings, smtp_sink: SmtpSink) -> SentMailing:
    add_readers(marketing_db)
    return send_to_readers(marketing_db, with_bounce_address(settings), smtp_sink)


@pytest.fixture
def policy(settings: Settings) -> BouncePolicy:
    return BouncePolicy.from_settings(settings)


def status_of(db: Database, email: str) -> str:
    with db.session() as session:
        return find_subscriber(session, email).status


def history_of(db: Database, email: str) -> list[dict[str, object]]:
    with db.session() as session:
        return status_history(session, find_subscriber(session, email))


def return_path(sent: SentMailing, email: str) -> str:
    return sent.messages[email].sender


def test_a_hard_bounce_bounces_the_subscriber_at_once_with_its_evidence(
    marketing_db: Database, sent: SentMailing, policy: BouncePolicy
) -> None:
    raw = postfix_dsn(return_path(sent, "ann@example.org"), "ann@example.org")

    taken = take_in(marketing_db, policy, raw, source="file", now=NOW)

    assert (taken.status, taken.kind, taken.duplicate) == ("processed", "hard", False)
    assert [(c.email, c.status, c.reason) for c in taken.changes] == [
        ("ann@example.org", "bounced", "hard_bounce")
    ]
    assert status_of(marketing_db, "ann@example.org") == "bounced"
    assert status_of(marketing_db, "bo@example.net") == "subscribed"
    [change] = history_of(marketing_db, "ann@example.org")
    assert change["from"] == "subscribed" and change["to"] == "bounced"
    assert change["evidence"] == {
        "kind": "hard",
        "mailing": sent.mailing_id,
        "status_code": "5.1.1",
        "diagnostic": "550 5.1.1 <ann@example.org>: Recipient address rejected: User unknown in "
        "local recipient table",
        "message": taken.message_id,
    }


def test_the_same_message_twice_changes_nothing_the_second_time(
    marketing_db: Database, sent: SentMailing, policy: BouncePolicy
) -> None:
    raw = postfix_dsn(return_path(sent, "ann@example.org"), "ann@example.org")
    first = take_in(marketing_db, policy, raw, source="smtp", now=NOW)
    with marketing_db.transaction() as session:  # reactivated by a marketer in between
        set_status(session, "ann@example.org", "subscribed", now=NOW + timedelta(minutes=1))

    again = take_in(marketing_db, policy, raw, source="file", now=NOW + timedelta(minutes=2))

    assert (again.message_id, again.duplicate, again.changes) == (first.message_id, True, ())
    assert status_of(marketing_db, "ann@example.org") == "subscribed"
    with marketing_db.session() as session:
        assert session.scalar(select(func.count()).select_from(BounceMessage)) == 1
        assert session.scalar(select(func.count()).select_from(Bounce)) == 1


def test_soft_bounces_bounce_the_subscriber_at_the_third_within_fourteen_days(
    marketing_db: Database, sent: SentMailing, policy: BouncePolicy
) -> None:
    address = return_path(sent, "bo@example.net")

    def soft(day: int) -> str:
        # each a message of its own (its own Message-ID), as each retry's warning is
        raw = gmail_dsn(address, "bo@example.net", over_quota=True)
        raw = raw.replace(b"abcdGMR", f"day{day}".encode())
        take_in(marketing_db, policy, raw, source="smtp", now=NOW + timedelta(days=day))
        return status_of(marketing_db, "bo@example.net")

    assert [soft(0), soft(10), soft(20)] == ["subscribed"] * 3  # day 0 is out of day 20's window
    assert soft(21) == "bounced"  # days 10, 20, 21
    [change] = history_of(marketing_db, "bo@example.net")
    assert change["reason"] == "soft_bounces"
    assert change["evidence"]["status_code"] == "4.2.2"  # type: ignore[index]


def test_soft_bounces_arriving_in_one_batch_are_all_counted(
    marketing_db: Database, sent: SentMailing, policy: BouncePolicy
) -> None:
    address = return_path(sent, "bo@example.net")
    retries = [
        gmail_dsn(address, "bo@example.net", over_quota=True).replace(
            b"abcdGMR", f"retry{n}".encode()
        )
        for n in range(3)
    ]

    hard = postfix_dsn(return_path(sent, "ann@example.org"), "ann@example.org")
    arrivals = [Arrival(raw, "file") for raw in [*retries, hard]]

    batch = take_in_batch(marketing_db, policy, arrivals, now=NOW)

    assert [len(intake.changes) for intake in batch] == [0, 0, 1, 1]
    assert [c.email for intake in batch for c in intake.changes] == [
        "bo@example.net",
        "ann@example.org",
    ]
    with marketing_db.session() as session:
        numbers = {
            s.email: s.change_seq
            for s in session.scalars(select(Subscriber).where(Subscriber.status == "bounced"))
        }
    # the batch's changes share one number, taken once for its transaction
    assert numbers["bo@example.net"] == numbers["ann@example.org"] is not None


def test_a_complaint_unsubscribes_with_the_reason_complaint(
    marketing_db: Database, sent: SentMailing, policy: BouncePolicy
) -> None:
    raw = arf_report(
        BOUNCE_ADDRESS, "cy@example.com", return_path=return_path(sent, "cy@example.com")
    )

    taken = take_in(marketing_db, policy, raw, source="smtp", now=NOW)

    assert taken.kind == "complaint"
    assert status_of(marketing_db, "cy@example.com") == "unsubscribed"
    with marketing_db.session() as session:
        totals = mailing_report(session, sent.mailing_id, now=NOW)["totals"]
    assert (totals["complaints"], totals["hard_bounces"], totals["bounced"]) == (1, 0, 0)
    [change] = history_of(marketing_db, "cy@example.com")
    assert (change["to"], change["reason"]) == ("unsubscribed", "complaint")


def test_a_reactivated_subscriber_is_mailed_again_and_keeps_the_history(
    marketing_db: Database,
    settings: Settings,
    smtp_sink: SmtpSink,
    sent: SentMailing,
    policy: BouncePolicy,
) -> None:
    take_in(
        marketing_db,
        policy,
        postfix_dsn(return_path(sent, "ann@example.org"), "ann@example.org"),
        source="smtp",
        now=NOW,
    )
    raw = arf_report(
        BOUNCE_ADDRESS, "cy@example.com", return_path=return_path(sent, "cy@example.com")
    )
    take_in(marketing_db, policy, raw, source="smtp", now=NOW)

    skipping = send_to_readers(marketing_db, with_bounce_address(settings), smtp_sink, name="Next")
    with marketing_db.transaction() as session:
        set_status(session, "ann@example.org", "subscribed", now=NOW + timedelta(days=1))
    again = send_to_readers(marketing_db, with_bounce_address(settings), smtp_sink, name="Later")

    assert sorted(skipping.messages) == ["bo@example.net"]
    assert sorted(again.messages) == ["ann@example.org", "bo@example.net"]
    history = history_of(marketing_db, "ann@example.org")
    assert [(h["to"], h["reason"]) for h in history] == [
        ("bounced", "hard_bounce"),
        ("subscribed", "marketer"),
    ]


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (out_of_office(BOUNCE_ADDRESS, "bo@example.net"), "auto_reply"),
        (b"\x00\xffnot mail at all", "unrecognised"),
        # a DSN for an address never mailed from here
        (postfix_dsn(BOUNCE_ADDRESS, "stranger@example.org"), "hard"),
    ],
)
def test_messages_that_name_no_delivery_are_kept_and_change_nobody(
    marketing_db: Database, sent: SentMailing, policy: BouncePolicy, raw: bytes, kind: str
) -> None:
    taken = take_in(marketing_db, policy, raw, source="file", now=NOW)

    assert (taken.status, taken.kind, taken.changes) == ("processed", kind, ())
    with marketing_db.session() as session:
        assert (
            session.scalar(select(BounceMessage.raw).where(BounceMessage.id == taken.message_id))
            == raw
        )
        assert session.scalars(select(Subscriber.status)).all() == ["subscribed"] * 3
        assert session.scalar(select(func.count()).select_from(StatusChange)) == 0


def test_without_a_token_a_dsn_bounces_the_address_it_names_when_it_was_mailed_here(
    marketing_db: Database, sent: SentMailing, policy: BouncePolicy
) -> None:
    raw = postfix_dsn(BOUNCE_ADDRESS, "Bo@Example.net")

    take_in(marketing_db, policy, raw, source="file", now=NOW)

    assert status_of(marketing_db, "bo@example.net") == "bounced"
    assert history_of(marketing_db, "bo@example.net")[0]["evidence"]["mailing"] == sent.mailing_id  # type: ignore[index]


def test_a_message_whose_processing_fails_is_kept_and_processed_by_a_retry(
    marketing_db: Database,
    sent: SentMailing,
    policy: BouncePolicy,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    raw = postfix_dsn(return_path(sent, "ann@example.org"), "ann@example.org")

    def broken(*args: object) -> None:
        raise RuntimeError("the database went away")

    with monkeypatch.context() as patched:
        patched.setattr(intake, "apply_reading", broken)
        failed = take_in(marketing_db, policy, raw, source="smtp", now=NOW)
    retried = retry(marketing_db, policy, now=NOW)

    assert (failed.status, failed.error) == ("failed", "RuntimeError: the database went away")
    assert "could not be processed: RuntimeError: the database went away; kept" in caplog.text
    assert [(r.message_id, r.status, r.kind) for r in retried] == [
        (failed.message_id, "processed", "hard")
    ]
    assert status_of(marketing_db, "ann@example.org") == "bounced"


def test_a_malformed_message_gets_a_log_line_and_is_kept(
    marketing_db: Database,
    sent: SentMailing,
    policy: BouncePolicy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    whole = postfix_dsn(return_path(sent, "ann@example.org"), "ann@example.org")
    raw = whole[: whole.rindex(b"--3F2A")].replace(
        b"Content-Description: Notification", b"Content-Description Notification"
    )

    taken = take_in(marketing_db, policy, raw, source="file", now=NOW)

    assert taken.problem is not None and taken.problem.startswith("malformed")
    assert f"bounce message {taken.message_id}: malformed" in caplog.text
    assert status_of(marketing_db, "ann@example.org") == "bounced"


def test_an_address_that_bounced_is_skipped_for_every_subscriber_sharing_it(
    marketing_db: Database, settings: Settings, smtp_sink: SmtpSink, policy: BouncePolicy
) -> None:
    with marketing_db.bulk_transaction() as session:
        header = "email,remote_id,first_name,last_name,status"
        rows = csv_rows(header, "pat@example.org,P1,,,", "Pat@Example.org,P2,,,")
        import_subscribers(session, rows, now=NOW)
    with marketing_db.transaction() as session:
        group = create_group(session, "Pats", now=NOW)
        change_members(session, group, csv_rows("remote_id", "P1", "P2"), now=NOW)
    settings = with_bounce_address(settings)
    first = send_to_readers(marketing_db, settings, smtp_sink, name="One", group_name="Pats")
    dsn = postfix_dsn(first.messages["pat@example.org"].sender, "pat@example.org")
    take_in(marketing_db, policy, dsn, source="smtp", now=NOW)

    second = send_to_readers(marketing_db, settings, smtp_sink, name="Two", group_name="Pats")

    assert list(first.messages) == ["pat@example.org"]  # one message an address
    assert second.messages == {}
    with marketing_db.session() as session:
        statuses = session.execute(select(Subscriber.remote_id, Subscriber.status)).tuples()
        assert sorted(statuses) == [("P1", "bounced"), ("P2", "subscribed")]


def test_in_a_batch_a_message_that_fails_is_rolled_back_alone_and_a_copy_is_a_duplicate(
    marketing_db: Database, sent: SentMailing, policy: BouncePolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    ann = postfix_dsn(return_path(sent, "ann@example.org"), "ann@example.org")
    bo = postfix_dsn(return_path(sent, "bo@example.net"), "bo@example.net")
    applied = intake.apply_reading

    def failing_for_bo(session: Any, message: BounceMessage, *rest: Any) -> Any:
        changes = applied(session, message, *rest)  # its effects are written, then it fails
        if message.raw == bo:
            raise RuntimeError("bo's message broke")
        return changes

    monkeypatch.setattr(intake, "apply_reading", failing_for_bo)
    arrivals = [Arrival(ann, "file"), Arrival(bo, "file"), Arrival(ann, "file")]

    taken = take_in_batch(marketing_db, policy, arrivals, now=NOW)

    assert [(t.status, t.duplicate) for t in taken] == [
        ("processed", False),
        ("failed", False),
        ("processed", True),
    ]
    assert taken[0].message_id == taken[2].message_id
    assert status_of(marketing_db, "ann@example.org") == "bounced"
    assert status_of(marketing_db, "bo@example.net") == "subscribed"
    with marketing_db.session() as session:
        assert session.scalar(select(func.count()).select_from(Bounce)) == 1
