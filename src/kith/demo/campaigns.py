"""The demo's campaign: the ready-made welcome campaign, activated and advanced through its
first days with `kith tick --now`, its mailings going to the local outbox. During the wait a
few of the new members post in the community; the hourly sync brings that to the Decide."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from kith.community.ingest import record_activity
from kith.community.models import Member
from kith.config import Settings
from kith.db import Database
from kith.marketing.campaigns.definition import activate, campaign_json, get_campaign
from kith.marketing.campaigns.models import Enrollment
from kith.marketing.campaigns.templates import create_from_template
from kith.marketing.models import Subscriber
from kith.marketing.scheduler import TickReport, run_tick

WAITED = timedelta(days=3, minutes=5)  # the template's Wait, and a little
POSTERS = 3  # new members who post during the wait


@dataclass(frozen=True)
class CampaignDemo:
    view: dict[str, Any]
    first_tick: TickReport
    later_tick: TickReport


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
    _post_in_the_community(community, [key for key in posting if key], now=now)
    later = run_tick(marketing, settings, now=now + WAITED)
    with marketing.session() as session:
        view = campaign_json(session, get_campaign(session, campaign_id), now=now + WAITED)
    return CampaignDemo(view, first, later)


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
