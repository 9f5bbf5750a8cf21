"""Contacts > Subscribers: search by email, Remote ID or name, a page at a time."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request, Response

from kith.marketing.models import SUBSCRIBER_STATUSES
from kith.marketing.web.search import search_subscribers
from kith.web.requests import db_of
from kith.web.site import Admin, page_router, render

router = page_router()


@router.get("/subscribers", name="subscribers")
def subscribers(
    request: Request, visitor: Admin, q: str = "", status: str = "", page: int = 1
) -> Response:
    with db_of(request).session() as session:
        found = search_subscribers(session, q, status=status or None, page=page)
    return render(
        request,
        "subscribers.html",
        found=found,
        q=q,
        status=status,
        statuses=SUBSCRIBER_STATUSES,
        page_link=lambda number: "?" + urlencode({"q": q, "status": status, "page": number}),
    )
