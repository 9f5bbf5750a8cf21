"""Schedule a send: a time in the past is refused, a scheduled mailing can be unscheduled and
not edited, and the real worker (its tick) sends it once its time has come, once even when two
workers tick, through a real SMTP server (aiosmtpd on loopback)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from kith.app import create_worker
from kith.clock import utcnow
from kith.config import Settings
from kith.db import Database
from kith.errors import Conflict, InvalidInput
from kith.marketing.mailings.definition import MailingDraft, change_mailing, get_mailing
from kith.marketing.mailings.schedule import schedule_send, send_time, unschedule_send
from kith.marketing.models import Mailing
from kith.marketing.scheduler import run_tick
from tests.integration.marketing.mailings import test_sending
from tests.integration.marketing.mailings.test_sending import new_mailing
from tests.support.smtp_sink import SmtpSink

marketing = test_sending.marketing  # the fixture: six subscribers, Readers and Board
TICK_SECONDS = 0.2
LATER = timedelta(seconds=1.5)  # a scheduled time in the near future


def scheduled(db: Database, mailing_id: int, at: datetime) -> Mailing:
    with db.transaction() as session:
        return schedule_send(session, mailing_id, at, now=utcnow())


def mailing_of(db: Database, mailing_id: int) -> Mailing:
    with db.session() as session:
        return get_mailing(session, mailing_id)


@contextmanager
def workers(settings: Settings, count: int) -> Iterator[None]:
    """`count` job workers of `settings` (as `kith worker` runs them), ticking often."""
    with ExitStack() as stack:
        for _ in range(count):
            worker = create_worker(settings, tick_seconds=TICK_SECONDS)
            worker.start()
            stack.callback(worker.stop)
        yield


def wait_for_the_send(db: Database, mailing_id: int) -> None:
    deadline = time.monotonic() + 60
    while mailing_of(db, mailing_id).status in ("scheduled", "sending"):
        assert time.monotonic() < deadline, "the scheduled send never ended"
        time.sleep(0.1)
    time.sleep(TICK_SECONDS * 5)  # more ticks: none may send it again


def worker_settings(settings: Settings, marketing: Database, sink: SmtpSink) -> Settings:
    return settings.model_copy(
        update={"marketing_db_url": marketing.url, "smtp_url": sink.url() + "&backoff=0"}
    )


def test_a_time_in_the_past_is_refused_and_the_mailing_stays_a_draft(marketing: Database) -> None:
    mailing_id = new_mailing(marketing)

    with pytest.raises(InvalidInput, match="is in the past"):
        scheduled(marketing, mailing_id, utcnow() - timedelta(minutes=1))

    assert mailing_of(marketing, mailing_id).status == "draft"


def test_a_scheduled_mailing_is_not_edited_and_unscheduled_is_a_draft_again(
    marketing: Database,
) -> None:
    mailing_id = new_mailing(marketing)
    at = utcnow() + timedelta(days=1)
    scheduled(marketing, mailing_id, at)
    draft = MailingDraft(name="Changed", subject="Hi", html="<p>Hi</p>", include=["Readers"])

    with pytest.raises(Conflict, match="unschedule it to change it"), marketing.transaction() as s:
        change_mailing(s, mailing_id, draft, now=utcnow())
    assert mailing_of(marketing, mailing_id).scheduled_for == at
    with marketing.transaction() as session:
        unschedule_send(session, mailing_id)

    unscheduled = mailing_of(marketing, mailing_id)
    assert (unscheduled.status, unscheduled.scheduled_for) == ("draft", None)
    with pytest.raises(Conflict, match="is draft, not scheduled"), marketing.transaction() as s:
        unschedule_send(s, mailing_id)


def test_the_time_typed_is_the_marketers_own_and_is_kept_in_utc() -> None:
    assert send_time("2026-07-01T09:30", "Europe/Paris") == datetime(2026, 7, 1, 7, 30, tzinfo=UTC)
    assert send_time("2026-12-24 09:00", "") == datetime(2026, 12, 24, 9, 0, tzinfo=UTC)
    with pytest.raises(InvalidInput, match="'Mars/Olympus' is not a time zone"):
        send_time("2026-12-24 09:00", "Mars/Olympus")
    with pytest.raises(InvalidInput, match="'tomorrow' is not a date and time"):
        send_time("tomorrow", "UTC")


def test_a_worker_sends_a_scheduled_mailing_when_its_time_comes(
    marketing: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    mailing_id = new_mailing(marketing)
    at = utcnow() + LATER
    scheduled(marketing, mailing_id, at)

    with workers(worker_settings(settings, marketing, smtp_sink), 1):
        smtp_sink.wait_for(1, timeout=60)
        first_at = utcnow()
        wait_for_the_send(marketing, mailing_id)

    assert first_at >= at
    sent = mailing_of(marketing, mailing_id)
    assert (sent.status, sent.scheduled_for) == ("sent", None)
    assert {message.recipients[0] for message in smtp_sink.messages} == {
        "ann@example.org",
        "Shared@example.org",
    }  # as Send: Board left out, the unsubscribed one too; Fay's template fails for her


def test_two_workers_send_a_scheduled_mailing_once(
    marketing: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    mailing_id = new_mailing(marketing)
    scheduled(marketing, mailing_id, utcnow() + LATER)

    with workers(worker_settings(settings, marketing, smtp_sink), 2):
        wait_for_the_send(marketing, mailing_id)

    assert mailing_of(marketing, mailing_id).status == "sent"
    received = Counter(message.recipients[0] for message in smtp_sink.messages)
    assert received == {"ann@example.org": 1, "Shared@example.org": 1}


def test_a_scheduled_send_to_nobody_goes_back_to_a_draft_saying_why(
    marketing: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    mailing_id = new_mailing(marketing, include=["Board"], exclude=["Board"])
    at = utcnow() + timedelta(hours=1)
    scheduled(marketing, mailing_id, at)

    report = run_tick(marketing, worker_settings(settings, marketing, smtp_sink), now=at)

    assert report.scheduled == [mailing_id]
    back = mailing_of(marketing, mailing_id)
    assert back.status == "draft"
    assert back.status_reason is not None and back.status_reason.startswith("nobody to send to")
    assert smtp_sink.messages == []
