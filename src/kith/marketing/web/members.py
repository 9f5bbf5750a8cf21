"""Contacts > Groups > a group's members: who is in it now, whatever its kind (static,
community, compound evaluated as it stands, a grade's), searched and a page at a time, each
with their status and a link to their page."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request, Response

from kith.marketing.groups.compound import members_condition
from kith.marketing.models import SUBSCRIBER_STATUSES
from kith.marketing.web.groups import group_by_id
from kith.marketing.web.search import search_subscribers
from kith.web.requests import PathId, db_of
from kith.web.site import Admin, page_router, render

router = page_router()


@router.get("/groups/{group_id}/members", name="group_members")
def group_members(
    request: Request,
    visitor: Admin,
    group_id: PathId,
    q: str = "",
    status: str = "",
    page: int = 1,
) -> Response:
    with db_of(request).session() as session:
        group = group_by_id(session, group_id)
        within = members_condition(session, group)
        found = search_subscribers(session, q, status=status or None, page=page, within=within)
    return render(
        request,
        "group_members.html",
        group=group,
        found=found,
        q=q,
        status=status,
        statuses=SUBSCRIBER_STATUSES,
        page_link=lambda number: "?" + urlencode({"q": q, "status": status, "page": number}),
    )
