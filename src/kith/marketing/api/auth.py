"""Authentication of the marketing API: an admin token sent as `Authorization: Bearer ...`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from kith.marketing.models import ApiToken
from kith.marketing.tokens import authenticate_token
from kith.web.requests import db_of, now_of

# auto_error=False: a missing header reaches authenticate_token, which answers 401 in the
# house's JSON error form rather than FastAPI's.
bearer = HTTPBearer(
    scheme_name="AdminToken",
    description="An admin API token from `kith marketing tokens create --name ...`.",
    auto_error=False,
)


def api_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> ApiToken:
    """The token the request authenticates with; 401 when it has none or a dead one."""
    token = credentials.credentials if credentials is not None else None
    return authenticate_token(db_of(request), token, now=now_of(request))
