"""What the community API routes share beyond kith.web.requests: query values, chunks, refusals."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from fastapi import Request

from kith.clock import parse_datetime
from kith.errors import InvalidInput
from kith.web.requests import ErrorOut, now_of

T = TypeVar("T")

# Rows read at a time for an NDJSON stream: memory holds one chunk however long the stream.
STREAM_CHUNK = 10_000


def parsed(name: str, value: str | None, parse: Callable[[str], T]) -> T | None:
    """The query parameter `name` read by `parse`, None when absent; InvalidInput naming it."""
    try:
        return None if value is None else parse(value)
    except ValueError as error:
        raise InvalidInput(f"{name}: {error}") from None


def instant(request: Request, as_of: str | None) -> datetime:
    """The instant `as_of` names, or now."""
    return parsed("as_of", as_of, parse_datetime) or now_of(request)


def refusals(what: str, *statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entries of a route on saved criteria (`what`: "list", "rule") for
    these statuses."""
    descriptions = {
        400: "The page token was altered, or issued for another list or server",
        403: "The credential's creator is not a Super Admin",
        404: f"No {what} has this key or name",
        409: f"Another {what} has this name",
        410: "The changes after this cursor are no longer all kept: read the list in full",
        422: "Invalid input; the message names the field or node",
    }
    return {status: {"model": ErrorOut, "description": descriptions[status]} for status in statuses}
