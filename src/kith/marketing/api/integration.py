"""Integration Settings routes: read them (never the password), change them, test the connection.

Marketing never imports the connection (imports run connection → marketing): the test call goes
through the ConnectionCheck port, which whoever builds the app fills with the connection's
check (kith.connection.client.check_connection).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from kith.config import Settings
from kith.encryption import SecretBox
from kith.errors import KithError
from kith.marketing.api.context import errors
from kith.marketing.integration import IntegrationView, configure_integration, get_integration
from kith.web.requests import db_of, json_response, now_of

router = APIRouter(tags=["Integration Settings"])


@runtime_checkable
class CheckReport(Protocol):
    """A check's outcome as JSON: what it saw, or (on a failure) its reason and detail."""

    def as_json(self) -> dict[str, Any]: ...


class ConnectionCheck(Protocol):
    """Calls the community API with the stored settings; a failure raises a KithError (with
    as_json for its reason and detail) whose status the route answers with."""

    def __call__(self, session: Session, box: SecretBox) -> CheckReport: ...


class ConnectionNotInstalled(KithError):
    """This server was built without the connection, so it cannot test it."""

    http_status = 503


class IntegrationOut(BaseModel):
    """The settings without the password: only whether one is set."""

    configured: bool
    active: bool
    base_url: str | None
    iam_key: str | None
    edition: str | None
    password_set: bool
    updated_at: datetime | None


class IntegrationIn(BaseModel):
    """What changes; fields left out keep their value. The first time needs url, iam_key and
    password; the connection then starts inactive unless `active` says otherwise."""

    url: str | None = None
    iam_key: str | None = None
    password: str | None = None
    active: bool | None = None
    edition: str | None = None


class CheckOut(BaseModel):
    ok: bool
    base_url: str
    list_count: int


class CheckFailedOut(BaseModel):
    error: str
    ok: bool
    reason: str
    message: str
    detail: str
    retry_after: int | None


CHECK_FAILED = {"model": CheckFailedOut}


@router.get("/integration", response_model=IntegrationOut)
def get_integration_settings(request: Request) -> Response:
    """The Integration Settings; the password is never returned, only whether it is set."""
    with db_of(request).session() as session:
        view = IntegrationView.of(get_integration(session))
    return json_response(view.as_json())


@router.put("/integration", response_model=IntegrationOut, responses=errors(422))
def put_integration_settings(request: Request, body: IntegrationIn) -> Response:
    """Change the Integration Settings; the password is stored encrypted."""
    box = SecretBox.from_settings(_settings(request))
    with db_of(request).transaction() as session:
        row = configure_integration(
            session,
            box=box,
            now=now_of(request),
            url=body.url,
            iam_key=body.iam_key,
            password=body.password,
            active=body.active,
            edition=body.edition,
        )
        view = IntegrationView.of(row)
    return json_response(view.as_json())


@router.post(
    "/integration/test",
    response_model=CheckOut,
    responses={
        409: {**CHECK_FAILED, "description": "The connection is not configured or not Active"},
        502: {
            **CHECK_FAILED,
            "description": "The community API is unreachable, refused the credentials or "
            "answered something unexpected",
        },
        503: {
            **CHECK_FAILED,
            "description": "The community API is throttling the IAM key (see Retry-After), "
            "or this server runs without the connection",
        },
    },
)
def post_integration_test(request: Request) -> Response:
    """Call the community API with the stored settings, as `kith connection test` does.

    A failure answers with its reason (not_configured, inactive, unreachable, unauthorized,
    throttled, unexpected) and the exact detail the community or the network gave.
    """
    check: ConnectionCheck | None = request.app.state.connection_check
    if check is None:
        raise ConnectionNotInstalled("this server runs without the connection; it cannot test it")
    box = SecretBox.from_settings(_settings(request))
    with db_of(request).session() as session:
        try:
            result = check(session, box)
        except KithError as failure:
            return _failure_response(failure)
    return json_response(result.as_json())


def _failure_response(failure: KithError) -> Response:
    body = failure.as_json() if isinstance(failure, CheckReport) else {"message": str(failure)}
    response = json_response({"error": type(failure).__name__, **body}, failure.http_status)
    retry_after = getattr(failure, "retry_after", None)
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings
