"""One side's web admin inside its app: templates, who is visiting, and how pages answer.

Each side (marketing, community) installs a Site on its FastAPI app. Its page routes use
PageRoute, which turns a domain error into an HTML page with the error's status (or JSON for
the pages' own scripts), a visitor who is not signed in into a redirect to the sign-in page,
and which sets the session cookie and the security headers on every answer. Routes reach the
visitor through the dependencies here: `signed_in`, `admin`, and `csrf_protected` on every
router, which refuses a POST whose CSRF token is missing or not this session's with 403.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape
from starlette.routing import NoMatchFound

from kith.config import Settings
from kith.errors import InvalidInput, KithError, PermissionDenied
from kith.web.accounts import AccountColumns
from kith.web.errors import invalid_request_message
from kith.web.forms import Form, read_form, read_json
from kith.web.requests import db_of, now_of
from kith.web.sessions import SessionSigner, SessionState

WEB_DIR = Path(__file__).parent
SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
# Scripts and styles come from our own /static only; the mailing preview's frame may show
# the message's own inline styles and images.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: https: http:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class SignInRequired(KithError):
    http_status = 401


class CsrfRefused(PermissionDenied):
    """A state-changing request without this session's CSRF token."""


@dataclass(frozen=True)
class Site:
    """One side's web admin: its logins, the role its admin pages need, its templates."""

    side: str
    title: str
    account_model: type[AccountColumns]
    admin_role: str
    templates: Environment
    settings: Settings

    @cached_property
    def signer(self) -> SessionSigner:
        """Made on first use: the key may be generated into the data dir then."""
        return SessionSigner(self.side, self.settings.signing_key())

    @property
    def secure_cookies(self) -> bool:
        return self.settings.public_url.lower().startswith("https://")


@dataclass(frozen=True)
class Visitor:
    """Who is asking: their session and, once signed in, their account."""

    state: SessionState
    account: AccountColumns | None
    csrf_token: str

    def is_admin_of(self, site: Site) -> bool:
        return self.account is not None and self.account.role == site.admin_role


def install_site(
    app: FastAPI,
    *,
    side: str,
    title: str,
    account_model: type[AccountColumns],
    admin_role: str,
    templates: Path,
    routers: Sequence[APIRouter],
) -> None:
    """Put the pages of one side on its app, with the shared static files at /static."""
    settings: Settings = app.state.settings
    app.state.site = Site(
        side=side,
        title=title,
        account_model=account_model,
        admin_role=admin_role,
        templates=_environment(templates),
        settings=settings,
    )
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")
    for router in routers:
        app.include_router(router)


def page_router(*dependencies: Callable[..., Any]) -> APIRouter:
    """A router of pages: PageRoute answers, CSRF checked, plus these dependencies."""
    return APIRouter(
        route_class=PageRoute,
        include_in_schema=False,
        dependencies=[Depends(csrf_protected), *(Depends(each) for each in dependencies)],
    )


def site_of(request: Request) -> Site:
    site: Site = request.app.state.site
    return site


# -- who is visiting -------------------------------------------------------------------------


def session_of(request: Request) -> SessionState:
    """The session the cookie holds, or a new one (whose cookie the answer will set)."""
    state: SessionState | None = getattr(request.state, "session", None)
    if state is not None:
        return state
    signer = site_of(request).signer
    state = signer.read(request.cookies.get(signer.cookie_name), now=now_of(request))
    if state is None:
        state = SessionState.anonymous()
        request.state.new_session = state
    request.state.session = state
    return state


def start_session(request: Request, state: SessionState) -> None:
    """Replace the visitor's session (sign-in, sign-out); the answer sets the new cookie."""
    request.state.session = request.state.new_session = state
    request.state.visitor = None


def visitor_of(request: Request) -> Visitor:
    cached: Visitor | None = getattr(request.state, "visitor", None)
    if cached is not None:
        return cached
    site = site_of(request)
    state = session_of(request)
    account = None
    if state.account_id is not None:
        with db_of(request).session() as session:
            account = session.get(site.account_model, state.account_id)
        if account is None or account.session_version != state.version:
            account = None  # signed out elsewhere, or the password changed
            state = SessionState(state.session_id)
            start_session(request, state)
    visitor = Visitor(state, account, site.signer.csrf_token(state))
    request.state.visitor = visitor
    return visitor


def signed_in(request: Request) -> Visitor:
    visitor = visitor_of(request)
    if visitor.account is None:
        raise SignInRequired("sign in to see this page")
    return visitor


def admin(request: Request) -> Visitor:
    """A signed-in visitor with the side's admin role (marketing: admin; community: Super
    Admin); 403 for anyone else."""
    visitor = signed_in(request)
    site = site_of(request)
    if not visitor.is_admin_of(site):
        raise PermissionDenied(
            f"this page is for the {site.admin_role.replace('_', ' ')} role; "
            f"{visitor.account.email if visitor.account else 'you'} may not use it"
        )
    return visitor


async def csrf_protected(request: Request) -> None:
    """Refuse (403) a state-changing request whose CSRF token is not this session's."""
    if request.method in SAFE_METHODS:
        return
    token = request.headers.get(CSRF_HEADER) or (await read_form(request)).get(CSRF_FIELD)
    state = session_of(request)
    if not site_of(request).signer.csrf_valid(state, token):
        raise CsrfRefused(
            "this form has expired or did not come from this site (no valid CSRF token): "
            "reload the page and try again"
        )


FormData = Annotated[Form, Depends(read_form)]
JsonBody = Annotated[Any, Depends(read_json)]
SignedIn = Annotated[Visitor, Depends(signed_in)]
Admin = Annotated[Visitor, Depends(admin)]


# -- answers ---------------------------------------------------------------------------------


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page of this side's templates, with what every page shows (navigation, CSRF)."""
    site = site_of(request)
    visitor = visitor_of(request)
    html = site.templates.get_template(template).render(
        site=site,
        visitor=visitor,
        is_admin=visitor.is_admin_of(site),
        csrf_token=visitor.csrf_token,
        csrf_input=Markup(
            f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(visitor.csrf_token)}">'
        ),
        url=lambda name, **params: url_path(request, name, **params),
        has_url=lambda name: has_route(request, name),
        static=lambda path: url_path(request, "static", path=path),
        here=request.url.path,
        **context,
    )
    return HTMLResponse(html, status_code=status_code)


def render_form(
    request: Request, template: str, error: KithError | None, **context: Any
) -> HTMLResponse:
    """A form's page, again with the error that refused it (and its status) when there is one."""
    return render(
        request,
        template,
        status_code=error.http_status if error else 200,
        error=str(error) if error else None,
        **context,
    )


def see_other(
    request: Request, name: str, query: dict[str, Any] | None = None, **params: Any
) -> RedirectResponse:
    """The answer to a form that worked: go to the named page (303, so the browser GETs it)."""
    target = url_path(request, name, **params)
    if query:
        target += "?" + urlencode(query)
    return RedirectResponse(target, status_code=303)


def back_to_page(router: APIRouter, action: str, page: str, *, same_ids: bool = True) -> None:
    """A GET of a form's action (a reload of the answer, a bookmark, a typed address) goes to
    the page the form is on (given the action's path parameters, when `same_ids`), instead of
    ending in an error."""

    def go_to_page(request: Request) -> Response:
        return see_other(request, page, **(request.path_params if same_ids else {}))

    router.add_api_route(action, go_to_page, methods=["GET"], name=f"{page}_again")


def url_path(request: Request, name: str, **params: Any) -> str:
    """The path of a route of this side's app (names repeat across the mounted apps)."""
    app: FastAPI = request.app
    path = app.url_path_for(name, **{key: str(value) for key, value in params.items()})
    root: str = request.scope.get("root_path", "")
    return root + path


def has_route(request: Request, name: str) -> bool:
    """Whether this side's app serves the named route, one without path parameters (the
    connection's pages may be absent)."""
    app: FastAPI = request.app
    try:
        app.url_path_for(name)
    except NoMatchFound:
        return False
    return True


class PageRoute(APIRoute):
    """A page's route: errors as pages, sign-in redirects, the session cookie, headers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                response = await handler(request)
            except SignInRequired:
                response = _to_sign_in(request)
            except KithError as error:
                response = _error_page(request, error)
            except RequestValidationError as error:
                response = _error_page(request, InvalidInput(invalid_request_message(error)))
            _finish(request, response)
            return response

        return answer


def _to_sign_in(request: Request) -> Response:
    if wants_json(request):
        return JSONResponse(
            {"error": "SignInRequired", "message": "sign in again"}, status_code=401
        )
    target = url_path(request, "sign_in") + "?" + urlencode({"next": request.url.path})
    return RedirectResponse(target, status_code=303)


def _error_page(request: Request, error: KithError) -> Response:
    status = error.http_status
    if wants_json(request):
        return JSONResponse({"error": type(error).__name__, "message": str(error)}, status)
    return render(request, "error.html", status_code=status, message=str(error), status=status)


def wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _finish(request: Request, response: Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    state: SessionState | None = getattr(request.state, "new_session", None)
    if state is None:
        return
    site = site_of(request)
    response.set_cookie(
        site.signer.cookie_name,
        site.signer.cookie(state),
        path=request.scope.get("root_path") or "/",
        httponly=True,
        samesite="lax",
        secure=site.secure_cookies,
    )


def _environment(side_templates: Path) -> Environment:
    environment = Environment(
        loader=ChoiceLoader(
            [FileSystemLoader(side_templates), FileSystemLoader(WEB_DIR / "templates")]
        ),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["when"] = _when
    environment.filters["number"] = lambda value: "" if value is None else f"{value:,}"
    environment.filters["path_part"] = lambda value: quote(str(value), safe="")
    return environment


def _when(value: datetime | None) -> str:
    return "" if value is None else f"{value:%Y-%m-%d %H:%M} UTC"
