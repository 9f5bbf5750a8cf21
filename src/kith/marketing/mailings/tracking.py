"""What recipients do with a message: opens, clicks and unsubscribes, recorded per delivery."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from kith.errors import NotFound
from kith.marketing.models import Delivery, DeliveryEvent, Subscriber
from kith.marketing.subscriber_changes import next_change


def record_event(
    session: Session, delivery_id: int, kind: str, *, now: datetime, url: str | None = None
) -> Delivery:
    """Record an open or a click of a delivery (every one: reports count unique people)."""
    delivery = _delivery(session, delivery_id)
    session.add(DeliveryEvent(delivery_id=delivery.id, kind=kind, url=url, occurred_at=now))
    return delivery


def unsubscribe(session: Session, delivery_id: int, *, now: datetime) -> Subscriber | None:
    """The delivery's subscriber, unsubscribed (again, harmlessly, if they already were)."""
    delivery = _delivery(session, delivery_id)
    subscriber = session.get(Subscriber, delivery.subscriber_id) if delivery.subscriber_id else None
    if subscriber is not None and subscriber.status != "unsubscribed":
        change = next_change(session)  # before the subscriber's row, as every writer takes them
        subscriber.status, subscriber.change_seq = "unsubscribed", change
        subscriber.updated_at = now
        session.add(DeliveryEvent(delivery_id=delivery.id, kind="unsubscribe", occurred_at=now))
    return subscriber


def _delivery(session: Session, delivery_id: int) -> Delivery:
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:
        raise NotFound("this message is no longer known here")
    return delivery
