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


# errors whose text says nothing to a person (a MemoryError has none at all)
_WORDS = {MemoryError: "out of memory", RecursionError: "nested too deeply to handle"}


def describe(error: BaseException) -> str:
    """An error in a few words, never empty: a domain error's own message; else its kind and the
    first line of its text (a database driver's own, not SQLAlchemy's statement dump)."""
    if isinstance(error, KithError):
        return str(error)
    kind = type(error).__name__
    words = next((text for known, text in _WORDS.items() if isinstance(error, known)), None)
    if words is not None:
        return f"{words} ({kind})"
    cause = getattr(error, "orig", None) or error  # SQLAlchemy's DBAPIError wraps the driver's
    lines = str(cause).strip().splitlines()
    return f"{kind}: {lines[0]}" if lines else kind
