"""What every API route of either app reads from its request, and how it writes JSON.

Each app keeps its database, settings and clock on `app.state`; tests replace the clock there
to move time instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import Path, Request, Response
from pydantic import BaseModel

from kith.config import Settings
from kith.db import MAX_ID, Database

# An id in a path ({mailing_id}, {group_id} ...): a number past what a key can hold is refused
# with 422 before it reaches the database, which would fail on it (SQLite: OverflowError;
# PostgreSQL: "integer out of range"), and so are non-ASCII digits such as "³".
PathId = Annotated[int, Path(ge=1, le=MAX_ID, description=f"An id, from 1 to {MAX_ID}")]


class ErrorOut(BaseModel):
    """The body of every error (kith.web.errors)."""

    error: str
    message: str


def db_of(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def client_address(request: Request) -> str:
    """Where the request came from, as the ASGI server saw it: what throttling counts by.

    Behind a proxy that is the proxy's address, unless the server is told to trust the proxy's
    X-Forwarded-For (uvicorn's FORWARDED_ALLOW_IPS; see the README's operator notes).
    """
    return request.client.host if request.client is not None else "unknown"


def now_of(request: Request) -> datetime:
    """The app's clock, read once per use."""
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


def json_response(value: Any, status_code: int = 200) -> Response:
    """JSON written by orjson: member pages and group lists run to thousands of rows."""
    return Response(orjson.dumps(value), status_code=status_code, media_type="application/json")


def json_download(value: Any, filename: str) -> Response:
    """A JSON document the browser saves as `filename` (a person's data) rather than shows."""
    return Response(
        orjson.dumps(value, option=orjson.OPT_INDENT_2),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def counted_ndjson(
    chunks: Iterable[Sequence[Any]], *, option: int = 0, end: dict[str, Any] | None = None
) -> Iterator[bytes]:
    """Items as NDJSON, a chunk at a time, then `{"end": {"count": N, **end}}`: a reader that
    does not see that line knows the stream was cut short (kith.connection.client)."""
    count = 0
    for chunk in chunks:
        count += len(chunk)
        yield b"".join(
            [orjson.dumps(item, option=option | orjson.OPT_APPEND_NEWLINE) for item in chunk]
        )
    yield orjson.dumps({"end": {"count": count, **(end or {})}}) + b"\n"
