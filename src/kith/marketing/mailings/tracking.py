"""What recipients do with a message: opens, clicks and unsubscribes, recorded per delivery."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from kith.erasures import ERASED
from kith.errors import NotFound
from kith.marketing.models import Delivery, DeliveryEvent, Subscriber
from kith.marketing.subscribers import change_status


def record_event(
    session: Session, delivery_id: int, kind: str, *, now: datetime, url: str | None = None
) -> Delivery | None:
    """Record an open or a click of a delivery (every one: reports count unique people);
    None, recording nothing, when the person it went to was erased."""
    delivery = _delivery(session, delivery_id)
    if delivery.email == ERASED:
        return None
    session.add(DeliveryEvent(delivery_id=delivery.id, kind=kind, url=url, occurred_at=now))
    return delivery


def sent_to_erased(session: Session, delivery_id: int) -> bool:
    """Whether the person the delivery went to was erased (kith.marketing.personal_data)."""
    return _delivery(session, delivery_id).email == ERASED


def unsubscribe(session: Session, delivery_id: int, *, now: datetime) -> Subscriber | None:
    """The delivery's subscriber, unsubscribed (again, harmlessly, if they already were);
    None when they were erased."""
    delivery = _delivery(session, delivery_id)
    subscriber = session.get(Subscriber, delivery.subscriber_id) if delivery.subscriber_id else None
    if subscriber is not None and change_status(
        session, subscriber, "unsubscribed", reason="unsubscribe_link", now=now
    ):
        session.add(DeliveryEvent(delivery_id=delivery.id, kind="unsubscribe", occurred_at=now))
    return subscriber


def _delivery(session: Session, delivery_id: int) -> Delivery:
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:
        raise NotFound("this message is no longer known here")
    return delivery
