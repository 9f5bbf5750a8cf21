"""Who went into a campaign: one row per address, where each is now, as the CLI and API show;
who waits at a step of its current version, and who passed it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from kith.marketing.campaigns.models import Campaign, CampaignVersion, Enrollment, StepOutcome
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


def at_step(campaign: Campaign, step: str, *, passed: bool) -> ColumnElement[bool]:
    """Whether a subscriber waits at this step of the campaign's current version (or, when
    `passed`, has passed it): the people each count on the campaign's page stands for."""
    in_version = select(Enrollment.subscriber_id).where(
        Enrollment.version_id == campaign.version_id
    )
    if passed:
        chosen = in_version.join(StepOutcome, StepOutcome.enrollment_id == Enrollment.id).where(
            StepOutcome.step == step
        )
    else:
        chosen = in_version.where(Enrollment.status == "active", Enrollment.step == step)
    return Subscriber.id.in_(chosen)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
