"""Who went into a campaign: one row per address, where each is now, as the CLI and API show."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kith.marketing.campaigns.models import Campaign, CampaignVersion, Enrollment
from kith.marketing.models import Subscriber


def enrollment_views(session: Session, campaign: Campaign) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Enrollment, Subscriber.email, CampaignVersion.number)
        .outerjoin(Subscriber, Subscriber.id == Enrollment.subscriber_id)
        .join(CampaignVersion, CampaignVersion.id == Enrollment.version_id)
        .where(Enrollment.campaign_id == campaign.id)
        .order_by(Enrollment.id)
    ).tuples()
    return [
        {
            "email": email,
            "email_key": enrollment.email_key,
            "version": number,
            "status": enrollment.status,
            "step": enrollment.step,
            "due_at": _iso(enrollment.due_at),
            "enrolled_at": enrollment.enrolled_at.isoformat(),
            "finished_at": _iso(enrollment.finished_at),
        }
        for enrollment, email, number in rows
    ]


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
