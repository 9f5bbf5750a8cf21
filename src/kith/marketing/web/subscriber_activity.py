"""What a subscriber's page shows of what marketing did with them: the mailings they were
sent (with their opens and clicks), their score and grade, and the campaigns they are in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ScalarSelect, func, select
from sqlalchemy.orm import Session

from kith.marketing.campaigns.models import Campaign, Enrollment
from kith.marketing.models import Delivery, DeliveryEvent, Mailing, Subscriber
from kith.marketing.scoring.models import SubscriberScore

MAILINGS_SHOWN = 100


@dataclass(frozen=True)
class MailingReceived:
    mailing: Mailing
    outcome: str
    sent_at: datetime | None
    opens: int
    clicks: int


@dataclass(frozen=True)
class CampaignJoined:
    campaign: Campaign
    enrollment: Enrollment


@dataclass(frozen=True)
class SubscriberActivity:
    mailings: list[MailingReceived]
    score: SubscriberScore | None
    campaigns: list[CampaignJoined]
    mailings_shown: int = MAILINGS_SHOWN


def subscriber_activity(session: Session, subscriber: Subscriber) -> SubscriberActivity:
    return SubscriberActivity(
        _mailings(session, subscriber),
        session.get(SubscriberScore, subscriber.id),
        _campaigns(session, subscriber),
    )


def _mailings(session: Session, subscriber: Subscriber) -> list[MailingReceived]:
    """The latest `MAILINGS_SHOWN` mailings that wrote them a delivery, newest first."""

    def events(kind: str) -> ScalarSelect[int]:
        return (
            select(func.count())
            .where(DeliveryEvent.delivery_id == Delivery.id, DeliveryEvent.kind == kind)
            .scalar_subquery()
        )

    query = (
        select(Mailing, Delivery.status, Delivery.sent_at, events("open"), events("click"))
        .join(Delivery, Delivery.mailing_id == Mailing.id)
        .where(Delivery.subscriber_id == subscriber.id)
        .order_by(Delivery.id.desc())
        .limit(MAILINGS_SHOWN)
    )
    return [MailingReceived(*row) for row in session.execute(query).tuples()]


def _campaigns(session: Session, subscriber: Subscriber) -> list[CampaignJoined]:
    query = (
        select(Campaign, Enrollment)
        .join(Enrollment, Enrollment.campaign_id == Campaign.id)
        .where(Enrollment.subscriber_id == subscriber.id)
        .order_by(Enrollment.enrolled_at.desc(), Enrollment.id.desc())
    )
    return [CampaignJoined(*row) for row in session.execute(query).tuples()]
