"""Authentication of the community API: an API credential's HLIAMKey and HLPassword headers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from kith.community.credentials import authenticate
from kith.community.models import ApiCredential
from kith.web.requests import ErrorOut, client_address, db_of, now_of, settings_of

_iam_key_header = APIKeyHeader(
    name="HLIAMKey",
    scheme_name="HLIAMKey",
    auto_error=False,
    description="The IAM key of an API credential.",
)
_password_header = APIKeyHeader(
    name="HLPassword",
    scheme_name="HLPassword",
    auto_error=False,
    description="The password issued with the IAM key.",
)


def api_credential(
    request: Request,
    iam_key: Annotated[str | None, Security(_iam_key_header)],
    password: Annotated[str | None, Security(_password_header)],
) -> ApiCredential:
    """The credential the request authenticates with: 401 when it does not, 429 when its
    address has failed too often with this key."""
    return authenticate(
        db_of(request),
        iam_key,
        password,
        source=client_address(request),
        now=now_of(request),
        settings=settings_of(request),
    )


Credential = Annotated[ApiCredential, Depends(api_credential)]


# How every route of the community API can refuse a request, for OpenAPI.
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Missing, wrong or revoked credentials"},
    429: {"model": ErrorOut, "description": "Too many failures from this address; see Retry-After"},
}


def require_both_headers(schema: dict[str, Any]) -> dict[str, Any]:
    """Make the OpenAPI document say the two headers go together.

    FastAPI lists each security dependency as an alternative (either header would do);
    OpenAPI expresses "both" as one requirement object naming the two schemes.
    """
    apart: list[dict[str, list[str]]] = [
        {_iam_key_header.scheme_name: []},
        {_password_header.scheme_name: []},
    ]
    together: dict[str, list[str]] = {
        _iam_key_header.scheme_name: [],
        _password_header.scheme_name: [],
    }
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            if operation.get("security") == apart:
                operation["security"] = [together]
    return schema
