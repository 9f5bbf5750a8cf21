"""What the marketing API routes share beyond kith.web.requests: arrays, rejected rows, errors."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from fastapi import Response
from pydantic import BaseModel, Field

from kith.csvimport.report import ImportRejected, RejectedRow
from kith.web.requests import ErrorOut, json_response


class RejectedRowOut(BaseModel):
    line: int
    reason: str


class RejectedOut(ErrorOut):
    """Invalid input; for a strict import or change that met bad rows (and so changed nothing),
    those rows."""

    rejected: list[RejectedRowOut] = Field(default_factory=list)


def json_array(values: Iterable[Any]) -> Iterable[bytes]:
    """A JSON array written an element at a time, for responses that may hold a million rows."""
    yield b"["
    for index, value in enumerate(values):
        yield (b"," if index else b"") + orjson.dumps(value)
    yield b"]"


def rejected_response(rejected: ImportRejected, *, line_offset: int = 0) -> Response:
    """422 with every rejected row; `line_offset` turns file lines into positions in a list."""
    return json_response(
        {
            "error": type(rejected).__name__,
            "message": str(rejected),
            "rejected": renumbered(rejected.report.rejected, line_offset),
        },
        status_code=rejected.http_status,
    )


def renumbered(rows: list[RejectedRow], line_offset: int) -> list[RejectedRow]:
    return [{"line": row["line"] + line_offset, "reason": row["reason"]} for row in rows]


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entries documenting these error statuses of a route."""
    return {status: {"model": ErrorOut, "description": ERRORS[status]} for status in statuses}


ERRORS = {
    401: "No token, or an unknown or revoked one",
    404: "No such subscriber, folder or group",
    409: "Conflicts with what exists (a name taken, a group in use)",
    422: "Invalid input; the message names the field, row or group at fault",
}
