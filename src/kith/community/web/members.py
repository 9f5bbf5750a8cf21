"""Members (search), a member's page with the activity timeline, their data to download and
(for Super Admins) a way to delete them, and the communities."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request, Response

from kith.community.accounts import Account
from kith.community.personal_data import delete_member, export_member
from kith.community.web.acting import acting_member
from kith.community.web.search import (
    communities,
    member_by_id,
    memberships_of,
    search_members,
    timeline,
)
from kith.erasures import forget_deleted_rows
from kith.errors import PermissionDenied
from kith.web.requests import PathId, db_of, json_download, now_of
from kith.web.site import (
    Admin,
    SignedIn,
    Visitor,
    back_to_page,
    page_router,
    render,
    see_other,
    site_of,
)

router = page_router()
back_to_page(router, "/members/{member_id}/delete", "member")


@router.get("/", name="home")
def home(request: Request, visitor: SignedIn) -> Response:
    return render(request, "home.html")


@router.get("/members", name="members")
def members(
    request: Request, visitor: SignedIn, q: str = "", page: int = 1, deleted: str = ""
) -> Response:
    with db_of(request).session() as session:
        found = search_members(session, q, page=page)
    return render(
        request,
        "members.html",
        found=found,
        q=q,
        deleted=deleted,
        page_link=lambda number: "?" + urlencode({"q": q, "page": number}),
    )


@router.get("/members/{member_id}", name="member")
def member(request: Request, visitor: SignedIn, member_id: PathId) -> Response:
    with db_of(request).session() as session:
        found = member_by_id(session, member_id)
        events = timeline(session, found, now=now_of(request))
        joined = memberships_of(session, found)
    return render(request, "member.html", member=found, timeline=events, memberships=joined)


@router.get("/members/{member_id}/data", name="member_data")
def member_data(request: Request, visitor: SignedIn, member_id: PathId) -> Response:
    """Everything the community keeps about the member, as a JSON download: for the member
    themself and for Super Admins."""
    with db_of(request).session() as session:
        found = member_by_id(session, member_id)
        if not visitor.is_admin_of(site_of(request)) and _member_id(visitor) != found.id:
            raise PermissionDenied("only the member and Super Admins can download their data")
        document = export_member(session, found.contact_key)
    return json_download(document, f"kith-member-{member_id}.json")


@router.post("/members/{member_id}/delete", name="delete_member")
def delete(request: Request, visitor: Admin, member_id: PathId) -> Response:
    """Delete the member for good (Super Admins)."""
    db = db_of(request)
    with db.transaction() as session:
        found = member_by_id(session, member_id)
        delete_member(
            session, found.contact_key, by=acting_member(session, visitor), now=now_of(request)
        )
    forget_deleted_rows(db)
    return see_other(request, "members", {"deleted": "1"})


def _member_id(visitor: Visitor) -> int | None:
    account = visitor.account
    return account.member_id if isinstance(account, Account) else None


@router.get("/communities", name="communities")
def community_list(request: Request, visitor: SignedIn) -> Response:
    with db_of(request).session() as session:
        sizes = communities(session)
    return render(request, "communities.html", communities=sizes)
