"""Mailings > a mailing's people: before the send, who it would reach now (its groups
evaluated as the send would, one per address, subscribed only); once sent, each address it
went to with the outcome, opens and clicks, and each it left out with why. Searched and a
page at a time."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request, Response
from sqlalchemy import select

from kith.marketing.mailings.definition import get_mailing, mailing_groups
from kith.marketing.mailings.recipients import recipients_query
from kith.marketing.models import DELIVERY_STATUSES, Subscriber
from kith.marketing.web.search import count_left_out, search_deliveries, search_subscribers
from kith.web.requests import PathId, db_of
from kith.web.site import Admin, page_router, render

router = page_router()


@router.get("/mailings/{mailing_id}/people", name="mailing_people")
def mailing_people(
    request: Request,
    visitor: Admin,
    mailing_id: PathId,
    q: str = "",
    status: str = "",
    page: int = 1,
) -> Response:
    """The recipients before the send; once it has written them, the deliveries and the
    addresses it left out."""
    with db_of(request).session() as session:
        mailing = get_mailing(session, mailing_id)
        groups = mailing_groups(session, mailing)
        if mailing.prepared_at is None:
            ids = recipients_query(session, mailing).subquery()
            within = Subscriber.id.in_(select(ids.c.id))
            recipients = search_subscribers(session, q, page=page, within=within)
            deliveries, left_out = None, 0
        else:
            recipients = None
            deliveries = search_deliveries(session, mailing, q, status=status or None, page=page)
            left_out = count_left_out(session, mailing, q) if status in ("", "skipped") else 0
    return render(
        request,
        "mailing_people.html",
        mailing=mailing,
        groups=groups,
        recipients=recipients,
        deliveries=deliveries,
        left_out=left_out,
        q=q,
        status=status,
        statuses=DELIVERY_STATUSES,
        page_link=lambda number: "?" + urlencode({"q": q, "status": status, "page": number}),
    )
