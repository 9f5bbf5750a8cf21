"""Domain errors: each names the input at fault, maps once to an HTTP status and an exit code."""

from __future__ import annotations


class KithError(Exception):
    """An error the user can act on; `str(error)` is the message shown to them."""

    http_status = 400
    exit_code = 1


class InvalidInput(KithError):
    http_status = 422


class NotFound(KithError):
    http_status = 404


class Conflict(KithError):
    http_status = 409


class PermissionDenied(KithError):
    http_status = 403


class AuthenticationFailed(KithError):
    """`challenge` is the WWW-Authenticate value telling a client how to authenticate."""

    http_status = 401

    def __init__(self, message: str, *, challenge: str | None = None) -> None:
        super().__init__(message)
        self.challenge = challenge


class Throttled(KithError):
    http_status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
