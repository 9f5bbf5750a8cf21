"""The reads behind the admin's lists (Contacts > Subscribers, a group's members, a mailing's
recipients and deliveries, Mailings, Campaigns): a page of rows matching some text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from kith.errors import InvalidInput
from kith.marketing.campaigns.models import Campaign
from kith.marketing.models import (
    DELIVERY_STATUSES,
    MAILING_STATUSES,
    Delivery,
    DeliveryEvent,
    Mailing,
    Subscriber,
)
from kith.marketing.subscribers import check_status
from kith.web.paging import Page, page_of

Row = TypeVar("Row")


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
    name = func.coalesce(Subscriber.first_name, "") + " " + func.coalesce(Subscriber.last_name, "")
    query = containing(query, text, Subscriber.email, Subscriber.remote_id, name)
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
    query = containing(
        select(Delivery).where(Delivery.mailing_id == mailing.id), text, Delivery.email
    )
    if status:
        query = query.where(
            Delivery.status == one_of(status, DELIVERY_STATUSES, "a delivery's outcome")
        )
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


def count_left_out(session: Session, mailing: Mailing, text: str) -> int:
    """How many of the mailing's addresses containing `text` its send left out (skipped)."""
    left_out = select(func.count()).where(
        Delivery.mailing_id == mailing.id, Delivery.status == "skipped"
    )
    return session.scalar(containing(left_out, text, Delivery.email)) or 0


def search_mailings(
    session: Session,
    text: str,
    *,
    status: str | None = None,
    archived: bool = False,
    page: int = 1,
) -> Page[Mailing]:
    """Mailings whose name or subject contains `text` (any case), newest first; archived ones
    only when asked for."""
    query = containing(select(Mailing), text, Mailing.name, Mailing.subject)
    if not archived:
        query = query.where(Mailing.archived_at.is_(None))
    if status:
        query = query.where(
            Mailing.status == one_of(status, MAILING_STATUSES, "a mailing's status")
        )
    return page_of(session, query, Mailing.id.desc(), number=page)


def search_campaigns(
    session: Session, text: str, *, archived: bool = False, page: int = 1
) -> Page[Campaign]:
    """Campaigns whose name contains `text` (any case), in the order they were made; archived
    ones only when asked for."""
    query = containing(select(Campaign), text, Campaign.name)
    if not archived:
        query = query.where(Campaign.archived_at.is_(None))
    return page_of(session, query, Campaign.id, number=page)


def containing(query: Select[tuple[Row]], text: str, *columns: Any) -> Select[tuple[Row]]:
    """`query` narrowed to rows where one of `columns` contains `text` (any case, as typed)."""
    words = text.strip().lower()
    if not words:
        return query
    return query.where(
        or_(*(func.lower(column).contains(words, autoescape=True) for column in columns))
    )


def one_of(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise InvalidInput(f"{what} is {', '.join(allowed[:-1])} or {allowed[-1]}, not {value!r}")
    return value
