"""Admin > API credentials: the IAM keys the connection uses; a new one's password is shown once."""

from __future__ import annotations

from fastapi import Request, Response

from kith.community.credentials import create_credential, list_credentials, revoke_credential
from kith.community.web.acting import acting_member
from kith.errors import KithError
from kith.web.requests import db_of, now_of
from kith.web.site import Admin, FormData, admin, back_to_page, page_router, render, see_other

router = page_router(admin)
back_to_page(router, "/credentials/{iam_key}/revoke", "credentials", same_ids=False)


@router.get("/credentials", name="credentials")
def credentials(request: Request, visitor: Admin) -> Response:
    return _page(request)


@router.post("/credentials")
def create(request: Request, visitor: Admin, form: FormData) -> Response:
    """Issue a credential; the answer is the only place its password ever appears."""
    try:
        with db_of(request).transaction() as session:
            issued = create_credential(
                session,
                name=form.text("name"),
                by=acting_member(session, visitor),
                now=now_of(request),
            )
    except KithError as error:
        return _page(request, error=str(error), status_code=error.http_status)
    return _page(request, issued_key=issued.credential.iam_key, issued_password=issued.password)


@router.post("/credentials/{iam_key}/revoke", name="revoke_credential")
def revoke(request: Request, visitor: Admin, iam_key: str) -> Response:
    with db_of(request).transaction() as session:
        revoke_credential(session, iam_key, by=acting_member(session, visitor), now=now_of(request))
    return see_other(request, "credentials")


def _page(
    request: Request,
    *,
    issued_key: str | None = None,
    issued_password: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    with db_of(request).session() as session:
        rows = list_credentials(session)
    return render(
        request,
        "credentials.html",
        status_code=status_code,
        credentials=rows,
        issued_key=issued_key,
        issued_password=issued_password,
        error=error,
    )
