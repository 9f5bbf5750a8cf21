"""The marketing home page: where each part of the product is, and any community group whose
last sync failed (a marketer starts here, not on the group's Info)."""

from __future__ import annotations

from fastapi import Request, Response

from kith.marketing.groups.target_groups import groups_not_synced
from kith.web.requests import db_of
from kith.web.site import Admin, page_router, render

router = page_router()


@router.get("/", name="home")
def home(request: Request, visitor: Admin) -> Response:
    with db_of(request).session() as session:
        not_synced = groups_not_synced(session)
    return render(request, "home.html", not_synced=not_synced)
