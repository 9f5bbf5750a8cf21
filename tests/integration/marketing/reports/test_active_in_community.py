"""The mailing report's split by community activity and the community report say the same of
the same people: a mailing to a community group chosen for posting in the last 30 days (the
online-community edition, which keeps no Personalizations) went to people both call active."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from kith.community.live_lists import keep_lists_current
from kith.config import Settings
from kith.connection.activity import pull_activity
from kith.db import Database
from kith.marketing.groups.members import change_members
from kith.marketing.groups.target_groups import create_group
from kith.marketing.mailings.report import mailing_report
from kith.marketing.mailings.sending import SendOptions
from kith.marketing.models import Delivery, Subscriber
from kith.marketing.reports.community import community_report
from tests.support.activity_world import NOW, ActivityWorld, build
from tests.support.bounce_world import send_to_readers
from tests.support.connection_world import joined_world
from tests.support.import_files import csv_rows
from tests.support.smtp_sink import SmtpSink

POSTERS = "Posted In The Last 30 Days"
POSTED = {"activity": ["thread_started", "discussion_reply"], "within_days": 30}


@pytest.fixture
def world(
    community_db: Database, marketing_db: Database, settings: Settings
) -> Iterator[ActivityWorld]:
    """The activity world pulled, its posters' list refreshed, kept current as a worker keeps
    it, and synced as a community group (a send then needs no resync: no worker runs here)."""
    with joined_world(community_db, marketing_db, settings, community_at=NOW) as joined:
        built = build(joined)
        pull_activity(marketing_db, joined.box, now=NOW)
        joined.list(f"Informz {POSTERS}", POSTED)
        joined.refresh()
        keep_lists_current(community_db, now=NOW, retention=settings.list_changes_retention)
        joined.sync(POSTERS)
        yield built


def send_to(world: ActivityWorld, settings: Settings, sink: SmtpSink, group: str) -> int:
    """A mailing to the group, sent; its id. The community group is as just synced (no worker
    is wired here to resync it or to read the automation rules)."""
    sent = send_to_readers(
        world.world.marketing,
        settings.model_copy(update={"public_url": "https://kith.example.org"}),
        sink,
        name=f"To {group}",
        group_name=group,
        options=SendOptions(allow_stale=True, ack_duplicates=True),
    )
    return sent.mailing_id


def test_a_mailing_to_recent_posters_went_to_people_both_reports_call_active(
    world: ActivityWorld, settings: Settings, smtp_sink: SmtpSink
) -> None:
    mailing_id = send_to(world, settings, smtp_sink, POSTERS)
    db = world.world.marketing
    with db.transaction() as session:  # the same people: the mailing's recipients
        recipients = session.scalars(
            select(Subscriber.remote_id)
            .join(Delivery, Delivery.subscriber_id == Subscriber.id)
            .where(Delivery.mailing_id == mailing_id)
        ).all()
        same_people = create_group(session, "Its recipients", now=NOW)
        change_members(session, same_people, csv_rows("remote_id", *recipients), now=NOW)
    with db.session() as session:
        split = mailing_report(session, mailing_id, now=NOW)["by_community_activity"]
        community = community_report(session, now=NOW, group="Its recipients")

    people = {segment: counts["recipients"] for segment, counts in split.items()}
    assert len(recipients) >= 3  # posters who are subscribed
    assert people == {"active": len(recipients), "inactive": 0, "unknown": 0}
    assert (community.members, community.active, community.inactive) == (
        len(recipients),
        len(recipients),
        0,
    )


def test_the_two_reports_agree_on_who_is_inactive_and_who_is_unknown(
    world: ActivityWorld, settings: Settings, smtp_sink: SmtpSink
) -> None:
    """A mailing to everyone: L4 did nothing in 30 days and L8 never did anything (inactive in
    both), nokey has no Remote ID (unknown to the community, and outside its report)."""
    db = world.world.marketing
    with db.transaction() as session:
        everyone = create_group(session, "Everyone", now=NOW)
        emails = session.scalars(select(Subscriber.email).where(Subscriber.status == "subscribed"))
        change_members(session, everyone, csv_rows("email", *emails), now=NOW)
    mailing_id = send_to(world, settings, smtp_sink, "Everyone")
    with db.session() as session:
        split = mailing_report(session, mailing_id, now=NOW)["by_community_activity"]
        community = community_report(session, now=NOW, group="Everyone")

    people = {segment: counts["recipients"] for segment, counts in split.items()}
    assert people["unknown"] == 1  # nokey@example.org
    assert (people["active"], people["inactive"]) == (community.active, community.inactive)
    assert people["inactive"] == 2  # L4 and L8
