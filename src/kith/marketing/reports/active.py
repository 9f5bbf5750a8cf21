"""Who is active in the community, for every report that says so (the community report's
active and inactive members, a mailing report's split by community activity): some activity
in the last 30 days (today, UTC, and the 29 days before), from the daily counts the connection
pulled, joined by Remote ID. A subscriber without a Remote ID is not known to the community.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, exists

from kith.marketing.models import Subscriber
from kith.marketing.scoring.model import first_day
from kith.marketing.scoring.models import CommunityActivityDay

ACTIVE_DAYS = 30


def active_in_community(now: datetime) -> ColumnElement[bool]:
    """A condition on subscribers: some community activity in the last ACTIVE_DAYS days."""
    days = CommunityActivityDay
    return exists().where(
        days.remote_id == Subscriber.remote_id,
        days.day >= first_day(now, ACTIVE_DAYS),
        days.day <= now.date(),
    )
