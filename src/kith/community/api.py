"""The community HTTP API the connection reads: lists, their members, activity, List Builder.

Every route authenticates with the HLIAMKey and HLPassword headers. Routes parse, call a
service and format; JSON is written with orjson because member pages run to 10,000 rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Depends, Query, Request, Response, Security
from fastapi.responses import StreamingResponse
from fastapi.security import APIKeyHeader
from pydantic import BaseModel
from sqlalchemy import ColumnElement, DateTime, type_coerce
from sqlalchemy.orm import Session

from kith.clock import parse_datetime
from kith.community.credentials import authenticate
from kith.community.ingest import record_activity
from kith.community.lists import (
    activity_summaries,
    community_names,
    create_list,
    delete_list,
    get_list,
    list_summaries,
    member_ids_query,
    member_page,
    member_row_chunks,
    update_list,
)
from kith.community.models import ApiCredential, CustomUserList, Member
from kith.community.tokens import PageToken, decode_page_token, encode_page_token
from kith.db import Database, UTCDateTime
from kith.errors import InvalidInput
from kith.web.requests import (
    ErrorOut,
    counted_ndjson,
    db_of,
    json_response,
    now_of,
    settings_of,
)

MAX_PAGE_SIZE = 10_000
DEFAULT_PAGE_SIZE = 1_000
STREAM_CHUNK = 10_000
MAX_ACTIVITY_BATCH = 10_000
# A member as the API shows it (MemberOut), in this order; `details` adds activity, communities
MEMBER_FIELDS = (
    "contact_key",
    "legacy_contact_key",
    "email",
    "first_name",
    "last_name",
    "company",
    "title",
    "member_type",
    "joined_at",
    "last_login_at",
)

Details = Annotated[
    bool,
    Query(description="Include each member's activity summaries and communities (slower)"),
]

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
    """The credential the request authenticates with: 401 when it does not, 429 when throttled."""
    return authenticate(
        db_of(request), iam_key, password, now=now_of(request), settings=settings_of(request)
    )


Credential = Annotated[ApiCredential, Depends(api_credential)]


# How every route of the community API can refuse a request, for OpenAPI.
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Missing, wrong or revoked credentials"},
    429: {"model": ErrorOut, "description": "Too many failures for this IAM key; see Retry-After"},
}

router = APIRouter(
    prefix="/api/v1",
    tags=["API"],
    dependencies=[Depends(api_credential)],
    responses=AUTH_RESPONSES,
)


class ListSummaryOut(BaseModel):
    key: str
    name: str
    created_at: datetime
    updated_at: datetime
    member_count: int | None


class ListOut(BaseModel):
    key: str
    name: str
    criteria: dict[str, Any]
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime


class ListIn(BaseModel):
    name: str
    criteria: dict[str, Any]


class ListChange(BaseModel):
    name: str | None = None
    criteria: dict[str, Any] | None = None


class ActivitySummaryOut(BaseModel):
    count: int
    count_30d: int
    last_at: datetime


class MemberOut(BaseModel):
    contact_key: str
    legacy_contact_key: str | None
    email: str | None
    first_name: str | None
    last_name: str | None
    company: str | None
    title: str | None
    member_type: str | None
    joined_at: datetime | None
    last_login_at: datetime | None
    activity: dict[str, ActivitySummaryOut] | None = None
    communities: list[str] | None = None


class RejectedEventOut(BaseModel):
    line: int
    reason: str


class ActivityReportOut(BaseModel):
    imported: int
    updated: int
    duplicates: int
    rejected: list[RejectedEventOut]


class MemberPageOut(BaseModel):
    members: list[MemberOut]
    next_page_token: str | None
    as_of: datetime


@router.get("/lists", response_model=list[ListSummaryOut])
def get_lists(
    request: Request,
    as_of: str | None = None,
    counts: Annotated[
        bool, Query(description="Count each list's members (false: member_count is null)")
    ] = True,
) -> Response:
    """The Custom User Lists by name, each with its member count at `as_of` (default: now)."""
    with db_of(request).session() as session:
        summaries = list_summaries(session, now=_instant(request, as_of), counts=counts)
    return json_response([summary.as_json() for summary in summaries])


@router.get("/lists/{key}/members", response_model=MemberPageOut)
def get_list_members(
    request: Request,
    key: str,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    page_token: Annotated[str | None, Query(description="next_page_token of the last page")] = None,
    as_of: Annotated[
        str | None, Query(description="Evaluate the list at this instant (first page only)")
    ] = None,
    details: Details = True,
) -> Response:
    """One page of a list's members in a stable order; follow next_page_token until it is null.

    Every page of one read evaluates the list at the instant fixed by the first page.
    """
    signing_key = settings_of(request).signing_key()
    with db_of(request).session() as session:
        custom_list = get_list(session, key)
        after_id, instant = None, _instant(request, as_of)
        if page_token is not None:
            token = decode_page_token(page_token, signing_key, list_key=custom_list.list_key)
            if as_of is not None and instant != token.as_of:
                raise InvalidInput(
                    f"as_of {as_of!r} differs from {token.as_of.isoformat()}, "
                    "the instant the page token fixed at the first page"
                )
            after_id, instant = token.after_id, token.as_of
        members = member_page(
            session, custom_list, now=instant, after_id=after_id, limit=page_size + 1
        )
        page, more = members[:page_size], len(members) > page_size
        views = _member_views(session, _member_rows(page), now=instant, details=details)
    next_token = (
        encode_page_token(PageToken(custom_list.list_key, page[-1].id, instant), signing_key)
        if more
        else None
    )
    return json_response(
        {
            "members": views,
            "next_page_token": next_token,
            "as_of": instant,
        }
    )


@router.get(
    "/lists/{key}/members.ndjson",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}, "description": "One member a line"}},
)
def stream_list_members(
    request: Request, key: str, as_of: str | None = None, details: Details = True
) -> StreamingResponse:
    """Every member of a list, one JSON object a line, evaluated at one instant (bulk reads).

    The last line is `{"end": {"count": N}}`: a reader that does not see it knows the stream
    was cut short, even when the connection closed cleanly.
    """
    db, instant = db_of(request), _instant(request, as_of)
    with db.session() as session:
        custom_list = get_list(session, key)
        member_ids_query(session, custom_list.criteria, now=instant)  # fail now, not mid-stream
    return StreamingResponse(
        _member_lines(db, custom_list.list_key, instant, details=details),
        media_type="application/x-ndjson",
    )


@router.post(
    "/activity",
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


@router.post("/lists", status_code=201, response_model=ListOut)
def post_list(request: Request, credential: Credential, body: ListIn) -> Response:
    """Create a list as the credential's creator, who must still be a Super Admin."""
    with db_of(request).transaction() as session:
        created = create_list(
            session,
            name=body.name,
            criteria=body.criteria,
            by=credential.created_by,
            now=now_of(request),
        )
    return json_response(_list_json(created), status_code=201)


@router.put("/lists/{key}", response_model=ListOut)
def put_list(request: Request, credential: Credential, key: str, body: ListChange) -> Response:
    """Rename a list or replace its criteria, as the credential's creator (a Super Admin)."""
    with db_of(request).transaction() as session:
        changed = update_list(
            session,
            key,
            by=credential.created_by,
            now=now_of(request),
            name=body.name,
            criteria=body.criteria,
        )
    return json_response(_list_json(changed))


@router.delete("/lists/{key}", status_code=204)
def remove_list(request: Request, credential: Credential, key: str) -> Response:
    """Delete a list, as the credential's creator (a Super Admin)."""
    with db_of(request).transaction() as session:
        delete_list(session, key, by=credential.created_by)
    return Response(status_code=204)


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


def _member_lines(
    db: Database, list_key: str, instant: datetime, *, details: bool
) -> Iterator[bytes]:
    """The list's members as NDJSON, from one evaluation streamed in bounded chunks.

    Members are read as plain rows: a list of a million members is the connection's bulk read.
    """
    columns = _stream_columns(db)
    with db.session() as session:
        custom_list = get_list(session, list_key)
        chunks = member_row_chunks(session, custom_list, columns, now=instant, chunk=STREAM_CHUNK)
        yield from counted_ndjson(
            (_member_views(session, rows, now=instant, details=details) for rows in chunks),
            option=orjson.OPT_NAIVE_UTC,  # a naive datetime is UTC (see _stream_columns)
        )


def _stream_columns(db: Database) -> list[ColumnElement[Any]]:
    """The members' id and MEMBER_FIELDS, as the stream reads them.

    SQLite keeps datetimes as UTC text. Read as naive datetimes, which orjson writes as UTC
    (OPT_NAIVE_UTC), they give the same JSON as aware ones in a quarter less of the stream's
    time. Elsewhere they are read as the model declares them.
    """
    table = Member.__table__.c
    columns: list[ColumnElement[Any]] = [table[name] for name in ("id", *MEMBER_FIELDS)]
    if not db.is_sqlite:
        return columns
    return [
        type_coerce(column, DateTime()) if isinstance(column.type, UTCDateTime) else column
        for column in columns
    ]


def _member_views(
    session: Session, rows: Sequence[Sequence[Any]], *, now: datetime, details: bool
) -> list[dict[str, Any]]:
    """Members, as rows of their id and MEMBER_FIELDS, as the API shows them; with `details`,
    their activity and communities too."""
    views = [_member_json(row) for row in rows]
    if not details:
        return views
    ids = [row[0] for row in rows]
    activity = activity_summaries(session, ids, now=now)
    communities = community_names(session, ids)
    for member_id, view in zip(ids, views, strict=True):
        view["activity"] = {
            name: {"count": s.count, "count_30d": s.count_30d, "last_at": s.last_at}
            for name, s in sorted(activity.get(member_id, {}).items())
        }
        view["communities"] = communities.get(member_id, [])
    return views


def _member_json(row: Sequence[Any]) -> dict[str, Any]:
    """A member's fields from its row (id first, then MEMBER_FIELDS)."""
    return dict(zip(MEMBER_FIELDS, row[1:], strict=True))


def _member_rows(members: Sequence[Member]) -> list[tuple[Any, ...]]:
    """Member objects as the rows _member_views takes."""
    return [(member.id, *(getattr(member, name) for name in MEMBER_FIELDS)) for member in members]


def _list_json(custom_list: CustomUserList) -> dict[str, Any]:
    return {
        "key": custom_list.list_key,
        "name": custom_list.name,
        "criteria": custom_list.criteria,
        "created_by": custom_list.created_by,
        "created_at": custom_list.created_at,
        "updated_by": custom_list.updated_by,
        "updated_at": custom_list.updated_at,
    }


def _instant(request: Request, as_of: str | None) -> datetime:
    if as_of is None:
        return now_of(request)
    try:
        return parse_datetime(as_of)
    except ValueError as error:
        raise InvalidInput(f"as_of: {error}") from None
