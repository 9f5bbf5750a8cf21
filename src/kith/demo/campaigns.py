"""The demo's campaign: the ready-made welcome campaign, activated and advanced through its
first days with `kith tick --now`, its mailings going to the local outbox. During the wait a
few of the new members post in the community; the hourly sync brings that to the Decide."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from kith.community.ingest import record_activity
from kith.community.lists import get_list
from kith.community.live_lists import changes_after, keep_lists_current, list_cursor
from kith.community.models import Member
from kith.config import Settings
from kith.connection.live import sync_live_groups
from kith.db import Database
from kith.marketing.campaigns.definition import activate, campaign_json, get_campaign
from kith.marketing.campaigns.models import Enrollment
from kith.marketing.campaigns.templates import create_from_template
from kith.marketing.models import Subscriber, SyncRun, TargetGroup
from kith.marketing.scheduler import TickReport, run_tick

WAITED = timedelta(days=3, minutes=5)  # the template's Wait, and a little
POSTERS = 3  # new members who post during the wait


LIVE_LIST = "Informz Posted In The Last 10 Days"  # made by the welcome template


@dataclass(frozen=True)
class CampaignDemo:
    view: dict[str, Any]
    first_tick: TickReport
    later_tick: TickReport
    # the live list's change log after the posts: (seq, added or removed, contact key)
    live_changes: list[tuple[int, str, str | None]]
    # the live pass that followed: the groups whose lists changed, and their delta runs
    live_runs: list[tuple[str, SyncRun]]


def run_demo_campaign(
    community: Database, marketing: Database, settings: Settings, *, now: datetime
) -> CampaignDemo:
    """Create the welcome campaign from its template, activate it, tick now and 3 days on."""
    campaign_id = create_from_template(marketing, "welcome", now=now)
    with marketing.transaction() as session:
        activate(session, str(campaign_id), now=now)
    first = run_tick(marketing, settings, now=now)
    with marketing.session() as session:
        posting = session.scalars(
            select(Subscriber.remote_id)
            .join(Enrollment, Enrollment.subscriber_id == Subscriber.id)
            .where(Enrollment.campaign_id == campaign_id)
            .order_by(Subscriber.remote_id)
            .limit(POSTERS)
        ).all()
    retention = settings.list_changes_retention
    keep_lists_current(community, now=now, retention=retention)
    with community.session() as session:
        cursor = list_cursor(session, get_list(session, LIVE_LIST))
    _post_in_the_community(community, [key for key in posting if key], now=now)
    keep_lists_current(community, now=now, retention=retention)  # what a worker does every second
    with community.session() as session:
        page = changes_after(session, get_list(session, LIVE_LIST), cursor, limit=100)
    live_runs = sync_live_groups(marketing, settings, now=now)  # what a worker does every 10 s
    with marketing.session() as session:
        named = [(session.get_one(TargetGroup, run.group_id).name, run) for run in live_runs]
    later = run_tick(marketing, settings, now=now + WAITED)
    with marketing.session() as session:
        view = campaign_json(session, get_campaign(session, campaign_id), now=now + WAITED)
    live = [(change.seq, change.change, change.contact_key) for change in page.changes]
    return CampaignDemo(view, first, later, live, named)


def _post_in_the_community(community: Database, legacy_keys: list[str], *, now: datetime) -> None:
    """Each of these members replies to a discussion, as the community records it."""
    with community.transaction() as session:
        contact_keys = session.scalars(
            select(Member.contact_key).where(Member.legacy_contact_key.in_(legacy_keys))
        ).all()
        record_activity(
            session,
            [
                {
                    "event_id": f"demo-welcome-reply-{key}",
                    "contact_key": key,
                    "type": "discussion_reply",
                    "occurred_at": now.isoformat(),
                    "community": "Open Forum",
                }
                for key in contact_keys
            ],
            now=now,
        )
