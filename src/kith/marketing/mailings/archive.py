"""Putting a mailing away: a mailing nobody was sent is deleted; one that went out is archived,
its deliveries, opens, clicks and report kept, and can be brought back.

A campaign names its mailings by id in its steps, so a mailing a campaign uses is never
deleted; archiving one hides it from Mailings and the campaign goes on sending it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from kith.errors import Conflict
from kith.marketing.campaigns.models import Campaign, CampaignVersion
from kith.marketing.campaigns.steps import steps_naming_mailing
from kith.marketing.mailings.definition import get_mailing
from kith.marketing.models import Delivery, Mailing


def delete_mailing(session: Session, mailing_id: int) -> Mailing:
    """Delete a mailing that never went to anyone; Conflict saying what to do otherwise."""
    mailing = get_mailing(session, mailing_id)
    if mailing.status == "sending":
        raise Conflict(f"the mailing {mailing.name!r} is being sent: wait until it is done")
    if has_deliveries(session, mailing):
        raise Conflict(
            f"the mailing {mailing.name!r} was sent: archive it instead, "
            "which keeps who it went to and its report"
        )
    campaigns = campaigns_sending(session, mailing)
    if campaigns:
        raise Conflict(
            f"the mailing {mailing.name!r} is a step of the "
            f"{'campaigns' if len(campaigns) > 1 else 'campaign'} "
            f"{', '.join(repr(name) for name in campaigns)}: take it out of the steps first"
        )
    session.delete(mailing)
    session.flush()
    return mailing


def archive_mailing(session: Session, mailing_id: int, *, now: datetime) -> Mailing:
    """Hide a sent mailing from Mailings, keeping its deliveries and report."""
    mailing = get_mailing(session, mailing_id)
    if mailing.status == "sending":
        raise Conflict(f"the mailing {mailing.name!r} is being sent: wait until it is done")
    if not has_deliveries(session, mailing):
        raise Conflict(
            f"the mailing {mailing.name!r} was never sent, so it has nothing to keep: "
            "delete it instead"
        )
    mailing.archived_at = mailing.archived_at or now
    return mailing


def unarchive_mailing(session: Session, mailing_id: int) -> Mailing:
    """Show an archived mailing in Mailings again."""
    mailing = get_mailing(session, mailing_id)
    mailing.archived_at = None
    return mailing


def has_deliveries(session: Session, mailing: Mailing) -> bool:
    """Whether the mailing went (or was going) to anyone: history that must stay."""
    return bool(session.scalar(select(exists().where(Delivery.mailing_id == mailing.id))))


def campaigns_sending(session: Session, mailing: Mailing) -> list[str]:
    """The names of the campaigns with a step (in any version) sending or asking about it."""
    rows = session.execute(
        select(Campaign.name, CampaignVersion.steps)
        .join(CampaignVersion, CampaignVersion.campaign_id == Campaign.id)
        .order_by(Campaign.name)
    ).tuples()
    return sorted({name for name, steps in rows if steps_naming_mailing(steps, mailing.id)})
