"""The community API's Custom User Lists: read them and their members, a page or a stream at a
time (what the connection syncs); Super Admins' credentials change them."""

from __future__ import annotations

from datetime import datetime
from itertools import chain
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from kith.community.api.auth import Credential
from kith.community.api.context import instant, refusals
from kith.community.api.members import (
    MEMBER_LINES,
    MemberOut,
    change_views,
    held_member_stream,
    member_columns,
    member_stream,
    member_views,
)
from kith.community.lists import (
    LISTS,
    create_list,
    delete_list,
    get_list,
    list_summaries,
    update_list,
)
from kith.community.live_lists import changes_after, keep_lists_current, list_cursor
from kith.community.models import CustomUserList
from kith.community.saved_criteria import member_rows
from kith.community.tokens import PageToken, decode_page_token, encode_page_token
from kith.errors import InvalidInput
from kith.web.requests import db_of, json_response, now_of, settings_of

MAX_PAGE_SIZE = 10_000
MAX_CURSOR = 2**63 - 1  # a change's seq is a 64-bit integer
DEFAULT_PAGE_SIZE = 1_000

Details = Annotated[
    bool,
    Query(description="Include each member's activity summaries and communities (slower)"),
]

router = APIRouter(tags=["API"])


class ListSummaryOut(BaseModel):
    key: str
    name: str
    created_at: datetime
    updated_at: datetime
    member_count: int | None
    error: str | None = Field(
        None, description="Why the list could not be counted (member_count is then null)"
    )


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


class ChangeOut(MemberOut):
    seq: int
    change: str


class ChangesOut(BaseModel):
    changes: list[ChangeOut]
    cursor: int
    more: bool


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
        summaries = list_summaries(session, now=instant(request, as_of), counts=counts)
    return json_response([summary.as_json() for summary in summaries])


@router.get(
    "/lists/{key}/members", response_model=MemberPageOut, responses=refusals("list", 400, 404)
)
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
        after_id, at = None, instant(request, as_of)
        if page_token is not None:
            token = decode_page_token(page_token, signing_key, list_key=custom_list.list_key)
            if as_of is not None and at != token.as_of:
                raise InvalidInput(
                    f"as_of {as_of!r} differs from {token.as_of.isoformat()}, "
                    "the instant the page token fixed at the first page"
                )
            after_id, at = token.after_id, token.as_of
        chunks = member_rows(
            session,
            custom_list.criteria,
            member_columns(),
            now=at,
            after_id=after_id,
            limit=page_size + 1,
        )
        rows = list(chain.from_iterable(chunks))
        page, more = rows[:page_size], len(rows) > page_size
        views = member_views(session, page, now=at, details=details)
    next_token = (
        encode_page_token(PageToken(custom_list.list_key, page[-1][0], at), signing_key)
        if more
        else None
    )
    return json_response(
        {
            "members": views,
            "next_page_token": next_token,
            "as_of": at,
        }
    )


@router.get(
    "/lists/{key}/members.ndjson",
    response_class=StreamingResponse,
    responses={200: MEMBER_LINES, **refusals("list", 404)},
)
def stream_list_members(
    request: Request, key: str, as_of: str | None = None, details: Details = True
) -> StreamingResponse:
    """Every member of a list, one JSON object a line (bulk reads): the members it holds now,
    or, with `as_of`, those its criteria select at that instant.

    The last line is `{"end": {"count": N, "cursor": C}}`: a reader that does not see it knows
    the stream was cut short, even when the connection closed cleanly. `cursor` (not given with
    `as_of`) is where the list's change log stood: `GET /lists/{key}/changes?after=C` follows
    the list from there.
    """
    if as_of is not None:
        return member_stream(request, LISTS, key, now=instant(request, as_of), details=details)
    now = kept_current(request)
    with db_of(request).session() as session:
        custom_list = get_list(session, key)
        cursor = list_cursor(session, custom_list)
    return held_member_stream(request, custom_list, now=now, cursor=cursor, details=details)


@router.get("/lists/{key}/changes", response_model=ChangesOut, responses=refusals("list", 404, 410))
def get_list_changes(
    request: Request,
    key: str,
    after: Annotated[int, Query(ge=0, le=MAX_CURSOR, description="The cursor of the last read")],
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = MAX_PAGE_SIZE,
    details: Details = False,
    fresh: Annotated[
        bool,
        Query(
            description="Bring the lists up to date first (a pass); false reads the changes "
            "as the community's last pass left them, which a client polling often wants"
        ),
    ] = True,
    keys_only: Annotated[
        bool,
        Query(
            description="Show every change by the keys and email it was logged with, the other "
            "fields null, without reading the members: all a sync needs, and much cheaper"
        ),
    ] = False,
) -> Response:
    """The list's changes after the cursor `after`, in order: members `added` (with the fields
    of the member stream) and `removed` (with the keys and email they were taken in with),
    then the cursor to ask from next; `more` when the page stopped at `limit`.

    410 Gone when the changes after `after` are no longer all kept: read the members stream in
    full again and follow its cursor.
    """
    now = kept_current(request) if fresh else now_of(request)
    with db_of(request).session() as session:
        page = changes_after(session, get_list(session, key), after, limit=limit)
        changes = change_views(session, page.changes, now=now, details=details, keys_only=keys_only)
    return json_response({"changes": changes, "cursor": page.cursor, "more": page.more})


def kept_current(request: Request) -> datetime:
    """Bring every live list up to the app's now (a pass); that instant."""
    now = now_of(request)
    retention = settings_of(request).list_changes_retention
    keep_lists_current(db_of(request), now=now, retention=retention)
    return now


@router.post(
    "/lists", status_code=201, response_model=ListOut, responses=refusals("list", 403, 409, 422)
)
def post_list(request: Request, credential: Credential, body: ListIn) -> Response:
    """Create a list as the credential's creator, who must still be a Super Admin."""
    with db_of(request).transaction() as session:
        created = create_list(
            session, **body.model_dump(), by=credential.created_by, now=now_of(request)
        )
    return json_response(_list_json(created), status_code=201)


@router.put("/lists/{key}", response_model=ListOut, responses=refusals("list", 403, 404, 409, 422))
def put_list(request: Request, credential: Credential, key: str, body: ListChange) -> Response:
    """Rename a list or replace its criteria, as the credential's creator (a Super Admin)."""
    with db_of(request).transaction() as session:
        changed = update_list(
            session, key, **body.model_dump(), by=credential.created_by, now=now_of(request)
        )
    return json_response(_list_json(changed))


@router.delete("/lists/{key}", status_code=204, responses=refusals("list", 403, 404))
def remove_list(request: Request, credential: Credential, key: str) -> Response:
    """Delete a list, as the credential's creator (a Super Admin)."""
    with db_of(request).transaction() as session:
        delete_list(session, key, by=credential.created_by)
    return Response(status_code=204)


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
