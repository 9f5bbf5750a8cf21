"""The read behind the pages that list people (Contacts > Subscribers, a group's members, a
mailing's recipients): a page of subscribers matching some text."""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from kith.marketing.models import Subscriber
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
