"""What follows a bounce: whose delivery it was, its record, and the subscriber's status.

A hard bounce makes the subscriber `bounced` at once; soft ones do after `soft_limit` within
`soft_window` (counted since the subscriber was last reactivated); a complaint makes them
`unsubscribed`. Each change goes through `change_status`, with the bounce as its evidence.

A report is applied only to an address this installation sent to: the VERP token names the
delivery; without one, the delivery whose Message-ID the report quotes, else the last delivery to
the reported address. A report naming an address never mailed from here changes nobody.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kith.csvimport.bulk import among
from kith.emails import email_key
from kith.marketing.bounces.models import Bounce, BounceMessage, StatusChange
from kith.marketing.bounces.reading import Reading, Report
from kith.marketing.models import Delivery, Subscriber
from kith.marketing.subscriber_changes import next_change
from kith.marketing.subscribers import change_status

_STATUS_AFTER = {"hard": "bounced", "soft": "bounced", "complaint": "unsubscribed"}
_REASON = {"hard": "hard_bounce", "soft": "soft_bounces", "complaint": "complaint"}


@dataclass(frozen=True)
class SoftBounceRule:
    """A subscriber is bounced after `limit` soft bounces within `window`."""

    limit: int = 3
    window: timedelta = timedelta(days=14)


@dataclass(frozen=True)
class Change:
    """A subscriber whose status a message changed."""

    email: str
    status: str
    reason: str


@dataclass
class Known:
    """What a batch of readings needs from the database, read once for the whole batch rather
    than for each message: the deliveries its VERP tokens name, their subscribers (locked), and
    the number of the status changes it makes (kith.marketing.subscriber_changes; one number
    serves the whole transaction, and is taken before any subscriber's row is locked)."""

    deliveries: dict[int, Delivery]
    subscribers: dict[int, Subscriber]
    change: int | None = None


def load_known(session: Session, readings: Iterable[Reading], change: int | None = None) -> Known:
    """`Known` for `readings`, under the change number `change` if the caller has taken one."""
    readings = list(readings)
    if change is None and any(_followed(reading.reports) for reading in readings):
        change = next_change(session)
    ids = [reading.token.delivery_id for reading in readings if reading.token is not None]
    if not ids:
        return Known({}, {}, change)
    deliveries = {
        delivery.id: delivery
        for delivery in session.scalars(select(Delivery).where(among(session, Delivery.id, ids)))
    }
    subscriber_ids = [d.subscriber_id for d in deliveries.values() if d.subscriber_id is not None]
    subscribers = {
        subscriber.id: subscriber
        for subscriber in session.scalars(
            select(Subscriber)
            .where(among(session, Subscriber.id, subscriber_ids))
            .order_by(Subscriber.id)  # locked in one order by every process
            .with_for_update()
        )
    }
    return Known(deliveries, subscribers, change)


def apply_reading(
    session: Session,
    message: BounceMessage,
    reading: Reading,
    rule: SoftBounceRule,
    known: Known,
) -> list[Change]:
    """Record each report of `reading` against its delivery and follow it; the changes made."""
    changes = []
    for delivery, report in _reports_by_delivery(session, reading, known):
        bounce = Bounce(
            message_id=message.id,
            subscriber_id=delivery.subscriber_id,
            mailing_id=delivery.mailing_id,
            delivery_id=delivery.id,
            email=delivery.email,
            kind=report.kind,
            status_code=report.status,
            diagnostic=report.diagnostic,
            occurred_at=message.received_at,
        )
        session.add(bounce)  # written with the batch's other rows, at the next flush
        subscriber = known.subscribers.get(delivery.subscriber_id or 0) or session.get(
            Subscriber, delivery.subscriber_id, with_for_update=True
        )
        if subscriber is not None and _follow(session, subscriber, bounce, rule, known.change):
            changes.append(Change(subscriber.email, subscriber.status, _REASON[bounce.kind]))
    return changes


def _reports_by_delivery(
    session: Session, reading: Reading, known: Known
) -> Iterator[tuple[Delivery, Report]]:
    reports = _followed(reading.reports)
    if not reports:
        return
    if reading.token is not None:
        delivery = known.deliveries.get(reading.token.delivery_id) or session.get(
            Delivery, reading.token.delivery_id
        )
        if delivery is not None and delivery.mailing_id == reading.token.mailing_id:
            # a VERP message bounces one recipient: its worst report is the one that counts
            yield delivery, max(reports, key=lambda report: _RANK[report.kind])
            return
    for report in reports:
        if report.address is None:
            continue
        delivery = _delivery_to(session, report.address, reading.original_message_id)
        if delivery is not None:
            yield delivery, report


def _followed(reports: Iterable[Report]) -> list[Report]:
    """The reports that can change a subscriber's status (not auto-replies, not unknowns)."""
    return [report for report in reports if report.kind in _STATUS_AFTER]


def _delivery_to(session: Session, address: str, message_id: str | None) -> Delivery | None:
    key = email_key(address)
    if message_id:
        quoted = session.scalar(
            select(Delivery).where(Delivery.message_id == message_id, Delivery.email_key == key)
        )
        if quoted is not None:
            return quoted
    return session.scalar(
        select(Delivery)
        .where(Delivery.email_key == key, Delivery.sent_at.is_not(None))
        .order_by(Delivery.id.desc())
        .limit(1)
    )


def _follow(
    session: Session,
    subscriber: Subscriber,
    bounce: Bounce,
    rule: SoftBounceRule,
    change: int | None,
) -> bool:
    now = bounce.occurred_at
    if bounce.kind == "complaint":
        return change_status(
            session,
            subscriber,
            "unsubscribed",
            reason="complaint",
            now=now,
            bounce=bounce,
            change=change,
        )
    if subscriber.status != "subscribed":
        return False
    if bounce.kind == "soft" and _recent_soft_bounces(session, subscriber, now, rule) < rule.limit:
        return False
    return change_status(
        session,
        subscriber,
        "bounced",
        reason=_REASON[bounce.kind],
        now=now,
        bounce=bounce,
        change=change,
    )


def _recent_soft_bounces(
    session: Session, subscriber: Subscriber, now: datetime, rule: SoftBounceRule
) -> int:
    """Soft bounces of the subscriber within the window, since their last reactivation: those
    written, and those of this transaction not written yet (counted without writing them, so
    that a batch's rows are written together, once)."""
    with session.no_autoflush:
        since = now - rule.window
        reactivated = session.scalar(
            select(func.max(StatusChange.changed_at)).where(
                StatusChange.subscriber_id == subscriber.id, StatusChange.to_status == "subscribed"
            )
        )
        if reactivated is not None and reactivated > since:
            since = reactivated
        written = session.scalar(
            select(func.count()).where(
                Bounce.subscriber_id == subscriber.id,
                Bounce.kind == "soft",
                Bounce.occurred_at > since,
                Bounce.occurred_at <= now,
            )
        )
    unwritten = sum(
        isinstance(pending, Bounce)
        and pending.subscriber_id == subscriber.id
        and pending.kind == "soft"
        and since < pending.occurred_at <= now
        for pending in session.new
    )
    return (written or 0) + unwritten


_RANK = {"complaint": 3, "hard": 2, "soft": 1}
