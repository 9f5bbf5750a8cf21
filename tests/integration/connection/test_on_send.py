"""A send's checks against the community, over real HTTP: its community groups are resynced
just before (a failed resync holds the mailing), and the duplicate-mailing guard compares the
recipients with the community's active send_email automation rules."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from kith.app import StartupFailed, start
from kith.clock import utcnow
from kith.community.automation import create_rule
from kith.config import Settings
from kith.db import Database
from kith.jobs import JobContext
from kith.marketing.mailings.definition import MailingDraft, create_mailing
from kith.marketing.mailings.jobs import send_mailing, start_send
from kith.marketing.mailings.report import mailing_report
from kith.marketing.mailings.sending import SendOptions, request_send, send_mailing_now
from kith.marketing.mailings.smtp_sender import SmtpTransport
from kith.marketing.models import Delivery, Mailing, SyncRun
from kith.marketing.ports import Ports, ports
from kith.marketing.scheduler import RESUME_AFTER, run_tick
from tests.support.connection_world import World, joined_world
from tests.support.smtp_sink import SmtpSink

SendPath = Callable[[World, Mailing, Settings], None]
ALL = {"field": "contact_key", "op": "starts_with", "value": "m"}


@pytest.fixture
def world(
    community_db: Database,
    marketing_db: Database,
    settings: Settings,
) -> Iterator[World]:
    """Members m1..m4 (m1, m2 in the list), their subscribers, the group synced once."""
    start(settings.model_copy(update={"marketing_db_url": marketing_db.url}))
    with joined_world(community_db, marketing_db, settings) as joined:
        key = joined.posters(4)
        joined.change_criteria(key, {"field": "contact_key", "op": "in", "value": ["m1", "m2"]})
        yield joined


def send(world: World, sink: SmtpSink, **options: Any) -> Mailing:
    with world.marketing.transaction() as session:
        mailing = create_mailing(
            session,
            MailingDraft(name="News", subject="Hi", html="<p>Hi</p>", include=["Posters"]),
            now=world.now,
        )
        request_send(session, mailing.id, SendOptions(**options), now=world.now)
    return send_mailing_now(
        world.marketing,
        world.settings,
        mailing.id,
        transport=SmtpTransport(sink.config()),
        clock=lambda: world.now,
    )


def rule(world: World, name: str, members: list[str]) -> None:
    with world.community.transaction() as session:
        create_rule(
            session,
            name=name,
            criteria={"field": "contact_key", "op": "in", "value": members},
            action="send_email",
            subject=f"{name}!",
            by="admin",
            now=world.now,
        )


def test_the_group_is_resynced_just_before_sending_by_the_changes_since(
    world: World, smtp_sink: SmtpSink
) -> None:
    mailing = send(world, smtp_sink)

    assert mailing.status == "sent", mailing.status_reason
    assert sorted(m.recipients[0] for m in smtp_sink.messages) == [
        "m1@example.org",
        "m2@example.org",  # joined the list after the first sync: the resync brought them
    ]
    with world.marketing.session() as session:
        runs = session.execute(select(SyncRun.trigger, SyncRun.mode).order_by(SyncRun.id))
        assert runs.tuples().all() == [("manual", "full"), ("on_send", "delta")]


def test_a_failed_resync_holds_the_mailing_unless_stale_is_allowed(
    world: World, smtp_sink: SmtpSink
) -> None:
    world.configure(active=False)

    held = send(world, smtp_sink)
    assert held.status == "held" and held.status_reason is not None
    assert "sync on send of 'Posters' was failed" in held.status_reason
    assert "not Active" in held.status_reason
    assert smtp_sink.messages == []

    unchecked = send(world, smtp_sink, allow_stale=True)  # the guard cannot ask the community
    assert unchecked.status == "held" and unchecked.status_reason is not None
    assert "duplicate-mailing check could not read the community" in unchecked.status_reason

    stale = send(world, smtp_sink, allow_stale=True, ack_duplicates=True)
    assert stale.status == "sent"
    assert [m.recipients[0] for m in smtp_sink.messages] == ["m1@example.org"]  # as last synced


def test_the_duplicate_guard_fires_on_an_overlapping_rule_and_not_a_disjoint_one(
    world: World, smtp_sink: SmtpSink
) -> None:
    rule(world, "Elsewhere", ["m3", "m4"])
    assert send(world, smtp_sink).status == "sent"

    rule(world, "Thanks posters", ["m2", "m3"])
    held = send(world, smtp_sink)
    assert held.status == "held"
    assert held.status_reason == (
        "duplicate mailing risk: the community rule 'Thanks posters' (it e-mails 'Thanks "
        "posters!') also reaches 1 of the recipients: m2@example.org; send with "
        "--ack-duplicates to send anyway, or with --leave-out-duplicates to send to the others"
    )
    sent_before = len(smtp_sink.messages)

    acknowledged = send(world, smtp_sink, ack_duplicates=True)
    assert acknowledged.status == "sent"
    assert len(smtp_sink.messages) == sent_before + 2


def test_leaving_the_overlap_out_sends_to_the_others_and_records_why_the_overlap_got_nothing(
    world: World, smtp_sink: SmtpSink
) -> None:
    rule(world, "Thanks posters", ["m2", "m3"])

    sent = send(world, smtp_sink, leave_out_duplicates=True)

    assert sent.status == "sent", sent.status_reason
    assert [message.recipients[0] for message in smtp_sink.messages] == ["m1@example.org"]
    with world.marketing.session() as session:
        deliveries = session.execute(
            select(Delivery.email, Delivery.status, Delivery.detail)
            .where(Delivery.mailing_id == sent.id)
            .order_by(Delivery.email)
        ).all()
        report = mailing_report(session, sent.id, now=utcnow())
    assert [tuple(row) for row in deliveries] == [
        ("m1@example.org", "sent", deliveries[0].detail),
        (
            "m2@example.org",
            "skipped",
            "left out of this send: the community rule 'Thanks posters' also e-mails them",
        ),
    ]
    assert report["totals"]["recipients"] == report["totals"]["sent"] == 1


def test_leaving_out_everyone_sends_nothing_and_the_mailing_stays_a_draft(
    world: World, smtp_sink: SmtpSink
) -> None:
    rule(world, "Thanks everyone", ["m1", "m2"])

    unsent = send(world, smtp_sink, leave_out_duplicates=True)

    assert unsent.status == "draft"
    assert unsent.status_reason is not None
    assert "a community automation rule also e-mails every recipient" in unsent.status_reason
    assert smtp_sink.messages == []


def test_startup_refuses_to_start_while_a_port_is_empty(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("kith.app.ports", Ports(sync_group=ports.sync_group))
    monkeypatch.setattr("kith.app.partial", lambda *_args, **_kwargs: None)

    with pytest.raises(StartupFailed, match="check_duplicates, provide_community_list"):
        start(settings)


def test_a_process_that_was_never_started_holds_the_send_instead_of_skipping_the_guard(
    world: World, smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("kith.marketing.mailings.sending.ports", Ports())

    held = send(world, smtp_sink)
    assert held.status == "held"
    assert held.status_reason == (
        "group 'Posters' could not be resynced: the connection is not wired (no sync group port)"
    )
    unchecked = send(world, smtp_sink, allow_stale=True)
    assert unchecked.status == "held"
    assert unchecked.status_reason == (
        "the duplicate-mailing check could not read the community: the connection is not wired "
        "(no check duplicates port)"
    )
    assert smtp_sink.messages == []


def _queued(world: World, mailing: Mailing, settings: Settings) -> None:
    with world.marketing.transaction() as session:
        request_send(session, mailing.id, SendOptions(), now=world.now)
    send_mailing(JobContext(settings), mailing.id)


def _asked_and_waited(world: World, mailing: Mailing, settings: Settings) -> None:
    start_send(world.marketing, settings, mailing.id, SendOptions(), wait=True)


def _resumed_by_the_tick(world: World, mailing: Mailing, settings: Settings) -> None:
    with world.marketing.transaction() as session:
        request_send(session, mailing.id, SendOptions(), now=world.now - 2 * RESUME_AFTER)
    run_tick(world.marketing, settings, now=world.now)


@pytest.mark.parametrize(
    "send_path",
    [_queued, _asked_and_waited, _resumed_by_the_tick],
    ids=["the worker's job", "a command that waits", "the tick resuming a lost send"],
)
def test_every_send_path_runs_the_duplicate_guard(
    world: World, smtp_sink: SmtpSink, tmp_path: Path, send_path: SendPath
) -> None:
    rule(world, "Thanks posters", ["m2", "m3"])
    settings = world.settings.model_copy(
        update={
            "data_dir": tmp_path,
            "marketing_db_url": world.marketing.url,
            "smtp_url": smtp_sink.url(),
        }
    )
    with world.marketing.transaction() as session:
        mailing = create_mailing(
            session,
            MailingDraft(name="News", subject="Hi", html="<p>Hi</p>", include=["Posters"]),
            now=world.now,
        )

    send_path(world, mailing, settings)

    with world.marketing.session() as session:
        sent = session.get_one(Mailing, mailing.id)
    assert sent.status == "held"
    assert sent.status_reason is not None
    assert sent.status_reason.startswith(
        "duplicate mailing risk: the community rule 'Thanks posters'"
    )
    assert smtp_sink.messages == []
