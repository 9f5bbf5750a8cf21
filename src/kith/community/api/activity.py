"""The community API's activity: events posted to be recorded, and the daily activity stream the
connection pulls for scoring and reports."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from itertools import chain
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from kith.clock import parse_date
from kith.community.activity_days import daily_lines, member_lines
from kith.community.api.context import STREAM_CHUNK, instant, parsed
from kith.community.ingest import record_activity
from kith.db import Database
from kith.errors import InvalidInput
from kith.web.requests import ErrorOut, counted_ndjson, db_of, json_response, now_of

MAX_ACTIVITY_BATCH = 10_000

# Each route names its tag: posting events sits with the lists in the document, as it always has.
router = APIRouter()


class RejectedEventOut(BaseModel):
    line: int
    reason: str


class ActivityReportOut(BaseModel):
    imported: int
    updated: int
    duplicates: int
    rejected: list[RejectedEventOut]


@router.post(
    "/activity",
    tags=["API"],
    response_model=ActivityReportOut,
    responses={207: {"model": ActivityReportOut, "description": "Some events were rejected"}},
)
def post_activity(
    request: Request,
    body: Annotated[
        dict[str, Any],
        Body(
            description=f"One event, or {{'events': [...]}} with up to {MAX_ACTIVITY_BATCH:,}",
            examples=[
                {
                    "event_id": "evt-1",
                    "contact_key": "C-1001",
                    "type": "discussion_reply",
                    "occurred_at": "2026-06-15T12:00:00Z",
                    "community": "Chapter A",
                }
            ],
        ),
    ],
) -> Response:
    """Record activity events: 200 when all were recorded, 207 when any was rejected.

    Either way the body is the report; each rejection names the event by its 1-based position
    in the batch ("line"). Valid events are recorded even when others are rejected, and an
    event_id recorded before counts as a duplicate, so a batch can safely be posted again.
    """
    events = body.get("events", [body])
    if not isinstance(events, list):
        raise InvalidInput("'events' must be a list of event objects")
    if len(events) > MAX_ACTIVITY_BATCH:
        raise InvalidInput(
            f"{len(events):,} events in one request; send at most {MAX_ACTIVITY_BATCH:,}"
        )
    with db_of(request).transaction() as session:
        report = record_activity(session, events, now=now_of(request))
    return json_response(report.as_json(), status_code=207 if report.rejected else 200)


@router.get(
    "/activity/daily.ndjson",
    tags=["Activity"],
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
    first_day = parsed("since", since, parse_date)
    until = instant(request, as_of)
    return StreamingResponse(
        _lines(db_of(request), first_day, until), media_type="application/x-ndjson"
    )


def _lines(db: Database, since: date | None, now: datetime) -> Iterator[bytes]:
    with db.session() as session:
        yield from counted_ndjson(
            chain(
                member_lines(session, chunk=STREAM_CHUNK),
                daily_lines(session, since=since, now=now, chunk=STREAM_CHUNK),
            )
        )
