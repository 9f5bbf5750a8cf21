"""The community API's daily activity stream: what the connection pulls for scoring and reports.

Authenticated like the rest of the API (HLIAMKey and HLPassword).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime
from itertools import chain
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from kith.clock import parse_date, parse_datetime
from kith.community.activity_days import daily_lines, member_lines
from kith.community.api import AUTH_RESPONSES, STREAM_CHUNK, api_credential
from kith.db import Database
from kith.errors import InvalidInput
from kith.web.requests import ErrorOut, counted_ndjson, db_of, now_of

T = TypeVar("T")

router = APIRouter(
    prefix="/api/v1",
    tags=["Activity"],
    dependencies=[Depends(api_credential)],
    responses=AUTH_RESPONSES,
)


@router.get(
    "/activity/daily.ndjson",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"application/x-ndjson": {}},
            "description": "Members, then daily counts, one a line",
        },
        422: {"model": ErrorOut, "description": "since is not a date"},
    },
)
def stream_daily_activity(
    request: Request,
    since: Annotated[
        str | None, Query(description="The first UTC day to count (YYYY-MM-DD); default: all")
    ] = None,
    as_of: Annotated[
        str | None, Query(description="Count events up to this instant (default: now)")
    ] = None,
) -> StreamingResponse:
    """Every member with a legacy contact key (`{"member", "joined_at"}`), then the activity
    as one line per member, UTC day and type (`{"member", "day", "type", "count"}`) from
    `since` up to `as_of`.

    The last line is `{"end": {"count": N}}`: a reader that does not see it knows the stream
    was cut short, even when the connection closed cleanly.
    """
    first_day = _parsed("since", since, parse_date)
    until = _parsed("as_of", as_of, parse_datetime) or now_of(request)
    return StreamingResponse(
        _lines(db_of(request), first_day, until), media_type="application/x-ndjson"
    )


def _parsed(name: str, value: str | None, parse: Callable[[str], T]) -> T | None:
    try:
        return None if value is None else parse(value)
    except ValueError as error:
        raise InvalidInput(f"{name}: {error}") from None


def _lines(db: Database, since: date | None, now: datetime) -> Iterator[bytes]:
    with db.session() as session:
        yield from counted_ndjson(
            chain(
                member_lines(session, chunk=STREAM_CHUNK),
                daily_lines(session, since=since, now=now, chunk=STREAM_CHUNK),
            )
        )
