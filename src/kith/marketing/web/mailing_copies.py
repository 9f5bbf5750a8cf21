"""Mailings > Duplicate: a copy of a mailing as a new draft, opened in the editor."""

from __future__ import annotations

from fastapi import Request, Response

from kith.marketing.mailings.copies import duplicate_mailing
from kith.web.requests import PathId, db_of, now_of
from kith.web.site import Admin, page_router, see_other

router = page_router()


@router.post("/mailings/{mailing_id}/duplicate", name="duplicate_mailing")
def duplicate(request: Request, visitor: Admin, mailing_id: PathId) -> Response:
    with db_of(request).transaction() as session:
        copy_id = duplicate_mailing(session, mailing_id, now=now_of(request)).id
    return see_other(request, "edit_mailing", mailing_id=copy_id)
