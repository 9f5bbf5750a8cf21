"""Sign-in, sign-out and the password change: the same pages on both sides, each with its logins."""

from __future__ import annotations

from fastapi import Request, Response

from kith.errors import AuthenticationFailed, InvalidInput, KithError, Throttled
from kith.web.accounts import end_sessions, set_password, sign_in
from kith.web.requests import client_address, db_of, now_of
from kith.web.sessions import SessionState
from kith.web.site import (
    FormData,
    SignedIn,
    back_to_page,
    page_router,
    render,
    see_other,
    site_of,
    start_session,
    url_path,
    visitor_of,
)

router = page_router()
back_to_page(router, "/sign-out", "sign_in")


@router.get("/sign-in", name="sign_in")
def sign_in_page(request: Request, next: str = "") -> Response:
    if visitor_of(request).account is not None:
        return see_other(request, "home")
    return render(request, "sign_in.html", next=_local(request, next), email="", error=None)


@router.post("/sign-in")
def sign_in_now(request: Request, form: FormData) -> Response:
    email, target = form.text("email"), _local(request, form.get("next"))
    site = site_of(request)
    try:
        account = sign_in(
            db_of(request),
            site.account_model,
            email,
            form.get("password"),
            source=client_address(request),
            now=now_of(request),
        )
    except (AuthenticationFailed, Throttled) as refused:
        page = render(
            request,
            "sign_in.html",
            status_code=refused.http_status,
            next=target,
            email=email,
            error=str(refused),
        )
        if isinstance(refused, Throttled):
            page.headers["Retry-After"] = str(refused.retry_after)
        return page
    start_session(
        request, SessionState.signed_in(account.id, account.session_version, now_of(request))
    )
    return Response(status_code=303, headers={"Location": target or url_path(request, "home")})


@router.post("/sign-out", name="sign_out")
def sign_out(request: Request, visitor: SignedIn) -> Response:
    """Ends every session of the account, this one included."""
    assert visitor.account is not None
    with db_of(request).transaction() as session:
        end_sessions(session, site_of(request).account_model, visitor.account.id)
    start_session(request, SessionState.anonymous())
    return see_other(request, "sign_in")


@router.get("/account", name="account")
def account_page(request: Request, visitor: SignedIn) -> Response:
    return render(request, "account.html", error=None, done=False)


@router.post("/account")
def change_password(request: Request, visitor: SignedIn, form: FormData) -> Response:
    assert visitor.account is not None
    site, now = site_of(request), now_of(request)
    try:
        if form.get("new_password") != form.get("repeat_password"):
            raise InvalidInput("the new password and its repetition differ")
        sign_in(
            db_of(request),
            site.account_model,
            visitor.account.email,
            form.get("password"),
            source=client_address(request),
            now=now,
        )
        with db_of(request).transaction() as session:
            account = session.get_one(site.account_model, visitor.account.id)
            set_password(session, account, form.get("new_password"))
            version = account.session_version
    except KithError as error:
        return render(
            request, "account.html", status_code=error.http_status, error=str(error), done=False
        )
    start_session(request, SessionState.signed_in(visitor.account.id, version, now))
    return render(request, "account.html", error=None, done=True)


def _local(request: Request, target: str) -> str:
    """`target` when it is a page of this side, else "" (no redirects to other sites)."""
    root = request.scope.get("root_path", "")
    if target.startswith(root + "/") and not target.startswith("//") and "\\" not in target:
        return target
    return ""
