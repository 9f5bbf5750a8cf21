"""The client's read deadline: a community API that trickles a byte a second fails a sync at
the deadline with the reason (the old membership kept), holds the mailing that needed it, and
stops the duplicate check and the activity pull too."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from kith.app import start
from kith.config import Settings
from kith.connection.activity import run_pull
from kith.connection.client import ConnectionFailed
from kith.connection.runs import SyncRuns
from kith.db import Database
from kith.marketing.mailings.definition import MailingDraft, create_mailing
from kith.marketing.mailings.jobs import start_send
from kith.marketing.mailings.sending import SendOptions
from kith.marketing.models import Mailing, SyncRun
from kith.marketing.scoring.models import ActivityPull
from tests.support.connection_world import World, joined_world
from tests.support.smtp_sink import SmtpSink
from tests.support.trickling_server import trickling_server

DEADLINE = 2.0
# the deadline, then at most one trickled byte and some room for a slow machine
BOUND = DEADLINE + 3.0
TOO_SLOW = "was too slow: not done within the read deadline of 2 s"


@pytest.fixture
def world(community_db: Database, marketing_db: Database, settings: Settings) -> Iterator[World]:
    """The group "Posters" synced once with m1, m2 since in its list; then the connection
    points at a community API that trickles."""
    settings = settings.model_copy(
        update={"marketing_db_url": marketing_db.url, "community_read_deadline_seconds": DEADLINE}
    )
    start(settings)
    with joined_world(community_db, marketing_db, settings) as joined:
        key = joined.posters(2)
        joined.change_criteria(key, {"field": "contact_key", "op": "in", "value": ["m1", "m2"]})
        with trickling_server(interval=1.0) as url:
            joined.configure(url=url)
            yield joined


def send(world: World, options: SendOptions) -> tuple[Mailing, float]:
    """`kith mailings send ID --wait` with no worker running; the mailing, and the seconds."""
    with world.marketing.transaction() as session:
        draft = MailingDraft(name="News", subject="Hi", html="<p>Hi</p>", include=["Posters"])
        mailing_id = create_mailing(session, draft, now=world.now).id
    started = time.monotonic()
    mailing = start_send(world.marketing, world.settings, mailing_id, options, wait=True)
    return mailing, time.monotonic() - started


def runs_in_progress(world: World) -> int:
    with world.marketing.session() as session:
        return session.scalar(select(func.count()).where(SyncRun.status == "in progress")) or 0


def test_a_sync_fails_at_the_deadline_with_the_reason_and_keeps_the_membership(
    world: World,
) -> None:
    started = time.monotonic()
    run = SyncRuns(world.marketing, world.settings).here(
        world.group_id("Posters"), trigger="manual", now=world.now
    )

    assert time.monotonic() - started < BOUND
    assert run.status == "failed" and run.error is not None
    assert TOO_SLOW in run.error and "KITH_COMMUNITY_READ_DEADLINE_SECONDS" in run.error
    assert world.group_remote_ids("Posters") == {"L1"}


def test_a_send_whose_sync_on_send_trickles_is_held_with_the_reason(
    world: World, smtp_sink: SmtpSink
) -> None:
    mailing, seconds = send(world, SendOptions())

    assert seconds < BOUND
    assert mailing.status == "held" and mailing.status_reason is not None
    assert mailing.status_reason.startswith("the sync on send of 'Posters' was failed: ")
    assert TOO_SLOW in mailing.status_reason
    assert runs_in_progress(world) == 0
    assert smtp_sink.messages == []


def test_the_duplicate_check_stops_at_the_deadline_too(world: World, smtp_sink: SmtpSink) -> None:
    mailing, seconds = send(world, SendOptions(allow_stale=True))  # past the failed sync

    assert seconds < 2 * BOUND
    assert mailing.status == "held" and mailing.status_reason is not None
    assert mailing.status_reason.startswith(
        "the duplicate-mailing check could not read the community: "
    )
    assert TOO_SLOW in mailing.status_reason
    assert smtp_sink.messages == []


def test_the_activity_pull_stops_at_the_deadline_and_keeps_nothing(world: World) -> None:
    started = time.monotonic()
    with pytest.raises(ConnectionFailed, match=TOO_SLOW):
        run_pull(world.marketing, world.settings, now=world.now)

    assert time.monotonic() - started < BOUND
    with world.marketing.session() as session:
        assert session.scalar(select(func.count()).select_from(ActivityPull)) == 0
