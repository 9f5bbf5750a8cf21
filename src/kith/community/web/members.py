"""Members (search), a member's page with the activity timeline, and the communities."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request, Response

from kith.community.web.search import (
    communities,
    member_by_id,
    memberships_of,
    search_members,
    timeline,
)
from kith.web.requests import PathId, db_of, now_of
from kith.web.site import SignedIn, page_router, render

router = page_router()


@router.get("/", name="home")
def home(request: Request, visitor: SignedIn) -> Response:
    return render(request, "home.html")


@router.get("/members", name="members")
def members(request: Request, visitor: SignedIn, q: str = "", page: int = 1) -> Response:
    with db_of(request).session() as session:
        found = search_members(session, q, page=page)
    return render(
        request,
        "members.html",
        found=found,
        q=q,
        page_link=lambda number: "?" + urlencode({"q": q, "page": number}),
    )


@router.get("/members/{member_id}", name="member")
def member(request: Request, visitor: SignedIn, member_id: PathId) -> Response:
    with db_of(request).session() as session:
        found = member_by_id(session, member_id)
        events = timeline(session, found, now=now_of(request))
        joined = memberships_of(session, found)
    return render(request, "member.html", member=found, timeline=events, memberships=joined)


@router.get("/communities", name="communities")
def community_list(request: Request, visitor: SignedIn) -> Response:
    with db_of(request).session() as session:
        sizes = communities(session)
    return render(request, "communities.html", communities=sizes)
