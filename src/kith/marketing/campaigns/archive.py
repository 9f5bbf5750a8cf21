"""Putting a campaign away: one never activated is deleted with its steps; one that ran is
archived, which stops it (as Pause does) and keeps who went through it and what each step did.

Archiving stops an active campaign rather than asking the marketer to pause it first: the
confirmation says so, and an archived campaign cannot be activated until it is unarchived.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from kith.errors import Conflict
from kith.marketing.campaigns.definition import get_campaign
from kith.marketing.campaigns.models import Campaign, Enrollment


def delete_campaign(session: Session, name_or_id: str | int) -> Campaign:
    """Delete a campaign that never ran; Conflict saying to archive it otherwise."""
    campaign = get_campaign(session, name_or_id)
    if has_run(session, campaign):
        raise Conflict(
            f"the campaign {campaign.name!r} has run: archive it instead, "
            "which keeps who went through it"
        )
    session.delete(campaign)
    session.flush()
    return campaign


def archive_campaign(session: Session, name_or_id: str | int, *, now: datetime) -> Campaign:
    """Stop the campaign if it runs and hide it from Campaigns; its enrollments stay."""
    campaign = get_campaign(session, name_or_id)
    if not has_run(session, campaign):
        raise Conflict(
            f"the campaign {campaign.name!r} never ran, so it has nothing to keep: "
            "delete it instead"
        )
    if campaign.status == "active":
        campaign.status = "inactive"
    campaign.archived_at = campaign.archived_at or now
    campaign.updated_at = now
    return campaign


def unarchive_campaign(session: Session, name_or_id: str | int, *, now: datetime) -> Campaign:
    """Show an archived campaign in Campaigns again, still stopped."""
    campaign = get_campaign(session, name_or_id)
    campaign.archived_at, campaign.updated_at = None, now
    return campaign


def has_run(session: Session, campaign: Campaign) -> bool:
    """Whether the campaign was ever activated or enrolled anyone: history that must stay."""
    enrolled = session.scalar(select(exists().where(Enrollment.campaign_id == campaign.id)))
    return campaign.activated_at is not None or bool(enrolled)
