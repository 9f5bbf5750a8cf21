"""Contacts > Subscribers: search by email, Remote ID or name, a page at a time; each
subscriber's record with the history of their status (a bounce's evidence), and reactivation."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request, Response

from kith.errors import NotFound
from kith.marketing.models import SUBSCRIBER_STATUSES, Subscriber
from kith.marketing.subscribers import reactivate, status_history
from kith.marketing.web.search import search_subscribers
from kith.web.requests import PathId, db_of, now_of
from kith.web.site import Admin, page_router, render, see_other

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


@router.get("/subscribers/{subscriber_id}", name="subscriber")
def subscriber(request: Request, visitor: Admin, subscriber_id: PathId) -> Response:
    with db_of(request).session() as session:
        found = session.get(Subscriber, subscriber_id)
        if found is None:
            raise NotFound(f"no subscriber has the id {subscriber_id}")
        history = status_history(session, found)
    return render(request, "subscriber.html", subscriber=found, history=history)


@router.post("/subscribers/{subscriber_id}/reactivate", name="reactivate_subscriber")
def reactivate_(request: Request, visitor: Admin, subscriber_id: PathId) -> Response:
    """A bounced subscriber subscribed again by a marketer; the history keeps the bounce."""
    with db_of(request).transaction() as session:
        found = session.get(Subscriber, subscriber_id)
        if found is None:
            raise NotFound(f"no subscriber has the id {subscriber_id}")
        reactivate(session, found, now=now_of(request))
    return see_other(request, "subscriber", subscriber_id=subscriber_id)
