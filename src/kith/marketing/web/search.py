"""The read behind the pages that list people (Contacts > Subscribers, a group's members, a
mailing's recipients) and a mailing's deliveries: a page of rows matching some text."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from kith.errors import InvalidInput
from kith.marketing.models import DELIVERY_STATUSES, Delivery, DeliveryEvent, Mailing, Subscriber
from kith.marketing.subscribers import check_status
from kith.web.paging import Page, page_of


def search_subscribers(
    session: Session,
    text: str,
    *,
    status: str | None = None,
    page: int = 1,
    within: ColumnElement[bool] | None = None,
) -> Page[Subscriber]:
    """Subscribers whose email, Remote ID or name contains `text` (any case), by email; only
    those `within` holds for when given (a group's members, a mailing's recipients)."""
    query = select(Subscriber)
    if within is not None:
        query = query.where(within)
    words = text.strip().lower()
    if words:
        name = (
            func.coalesce(Subscriber.first_name, "") + " " + func.coalesce(Subscriber.last_name, "")
        )
        query = query.where(
            or_(
                *(
                    func.lower(column).contains(words, autoescape=True)
                    for column in (Subscriber.email, Subscriber.remote_id, name)
                )
            )
        )
    if status:
        query = query.where(Subscriber.status == check_status(status))
    return page_of(session, query, Subscriber.email_key, Subscriber.id, number=page)


@dataclass(frozen=True)
class DeliveryRow:
    """One address a mailing went to, what became of the message, and what they did with it."""

    delivery: Delivery
    opens: int
    clicks: int


def search_deliveries(
    session: Session, mailing: Mailing, text: str, *, status: str | None = None, page: int = 1
) -> Page[DeliveryRow]:
    """The mailing's deliveries whose address contains `text` (any case), by address."""
    query = select(Delivery).where(Delivery.mailing_id == mailing.id)
    words = text.strip().lower()
    if words:
        query = query.where(func.lower(Delivery.email).contains(words, autoescape=True))
    if status:
        query = query.where(Delivery.status == _delivery_status(status))
    found = page_of(session, query, Delivery.email_key, Delivery.id, number=page)
    counts = _event_counts(session, [delivery.id for delivery in found.rows])
    rows = [
        DeliveryRow(each, counts.get((each.id, "open"), 0), counts.get((each.id, "click"), 0))
        for each in found.rows
    ]
    return Page(rows, found.total, found.number, found.pages)


def _event_counts(session: Session, delivery_ids: list[int]) -> dict[tuple[int, str], int]:
    query = (
        select(DeliveryEvent.delivery_id, DeliveryEvent.kind, func.count())
        .where(DeliveryEvent.delivery_id.in_(delivery_ids))
        .group_by(DeliveryEvent.delivery_id, DeliveryEvent.kind)
    )
    return {(delivery_id, kind): count for delivery_id, kind, count in session.execute(query)}


def _delivery_status(status: str) -> str:
    if status not in DELIVERY_STATUSES:
        raise InvalidInput(
            f"a delivery's outcome is {', '.join(DELIVERY_STATUSES[:-1])} or "
            f"{DELIVERY_STATUSES[-1]}, not {status!r}"
        )
    return status
