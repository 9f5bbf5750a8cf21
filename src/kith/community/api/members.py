"""Members as the community API shows them, and the NDJSON stream of the members a list or a
rule selects (or a live list holds): one helper for all, reading plain rows in bounded chunks."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy import ColumnElement, DateTime, Row, select, type_coerce
from sqlalchemy.orm import Session

from kith.community import saved_criteria
from kith.community.api.context import STREAM_CHUNK
from kith.community.lists import activity_summaries, community_names
from kith.community.live_lists import KEYS, held_rows
from kith.community.models import (
    MEMBER_DATE_FIELDS,
    MEMBER_TEXT_FIELDS,
    CustomUserList,
    Member,
)
from kith.community.saved_criteria import Saved, SavedKind
from kith.db import Database, UTCDateTime
from kith.web.requests import counted_ndjson, db_of

# A member as the API shows it (MemberOut), in this order; `details` adds activity, communities
MEMBER_FIELDS = (*MEMBER_TEXT_FIELDS, *MEMBER_DATE_FIELDS)
Rows = Sequence[tuple[Any, ...]]
# The members' rows, a chunk at a time, of the given columns of `members`
RowSource = Callable[[Session, list[ColumnElement[Any]]], Iterator[Rows]]
# The 200 answer of a member stream, for OpenAPI
MEMBER_LINES: dict[str, Any] = {
    "content": {"application/x-ndjson": {}},
    "description": "One member a line",
}


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


def member_stream(
    request: Request,
    kind: SavedKind[Saved],
    key: str,
    *,
    now: datetime,
    fields: Sequence[str] = MEMBER_FIELDS,
    details: bool = False,
) -> StreamingResponse:
    """Every member the list or rule `key` (or name) selects at `now`, one JSON object of
    `fields` a line (with `details`, activity and communities too), from one evaluation.

    The last line is `{"end": {"count": N}}`, so a reader knows a stream cut short. A missing
    list or rule, or criteria that no longer compile, fail before the stream starts.
    """
    db = db_of(request)
    with db.session() as session:
        criteria = saved_criteria.find(session, kind, key).criteria
        saved_criteria.validate_criteria(session, criteria, now=now)

    def rows(session: Session, columns: list[ColumnElement[Any]]) -> Iterator[Rows]:
        return saved_criteria.member_rows(session, criteria, columns, now=now, chunk=STREAM_CHUNK)

    return _streamed(db, rows, now, fields, details=details)


def held_member_stream(
    request: Request, custom_list: CustomUserList, *, now: datetime, cursor: int, details: bool
) -> StreamingResponse:
    """The members a live list holds, as member_stream writes them; the last line also says
    the cursor of the list's change log they were read at: `{"end": {"count", "cursor"}}`."""

    def rows(session: Session, columns: list[ColumnElement[Any]]) -> Iterator[Rows]:
        return held_rows(session, custom_list.id, columns, chunk=STREAM_CHUNK)

    return _streamed(db_of(request), rows, now, MEMBER_FIELDS, details=details, cursor=cursor)


def _streamed(
    db: Database,
    rows: RowSource,
    now: datetime,
    fields: Sequence[str],
    *,
    details: bool,
    cursor: int | None = None,
) -> StreamingResponse:
    return StreamingResponse(
        _member_lines(db, rows, now, fields, details=details, cursor=cursor),
        media_type="application/x-ndjson",
    )


def member_views(
    session: Session,
    rows: Sequence[Sequence[Any]],
    *,
    now: datetime,
    details: bool,
    fields: Sequence[str] = MEMBER_FIELDS,
) -> list[dict[str, Any]]:
    """Members, as rows of their id and `fields`, as the API shows them; with `details`,
    their activity and communities too."""
    views = [dict(zip(fields, row[1:], strict=True)) for row in rows]
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


def change_views(
    session: Session,
    changes: Sequence[Row[Any]],
    *,
    now: datetime,
    details: bool,
    keys_only: bool = False,
) -> list[dict[str, Any]]:
    """A list's changes as the API shows them: a member added as the member stream shows them
    now (their keys and email as logged), a member removed by those alone; with `keys_only`,
    every change by those alone."""
    views: dict[int, dict[str, Any]] = {}
    if not keys_only:
        added = [change.member_id for change in changes if change.change == "added"]
        rows = session.execute(select(*member_columns()).where(Member.id.in_(added))).tuples().all()
        shown_now = member_views(session, rows, now=now, details=details)
        views = dict(zip((row[0] for row in rows), shown_now, strict=True))
    unknown = dict.fromkeys(MEMBER_FIELDS)
    shown = []
    for seq, kind, member_id, *logged in changes:  # live_lists.PAGE_COLUMNS
        now_known = views.get(member_id, unknown) if kind == "added" else unknown
        keys = dict(zip(KEYS, logged, strict=True))
        shown.append({**now_known, **keys, "seq": seq, "change": kind})
    return shown


def member_columns(fields: Sequence[str] = MEMBER_FIELDS) -> list[ColumnElement[Any]]:
    """The members' id and `fields`: the rows member_views takes."""
    table = Member.__table__.c
    return [table[name] for name in ("id", *fields)]


def _member_lines(
    db: Database,
    rows: RowSource,
    now: datetime,
    fields: Sequence[str],
    *,
    details: bool,
    cursor: int | None,
) -> Iterator[bytes]:
    """The members as NDJSON, read as plain rows: a list of a million members is the
    connection's bulk read."""
    columns = _stream_columns(db, fields)
    with db.session() as session:
        yield from counted_ndjson(
            (
                member_views(session, chunk, now=now, details=details, fields=fields)
                for chunk in rows(session, columns)
            ),
            option=orjson.OPT_NAIVE_UTC,  # a naive datetime is UTC (see _stream_columns)
            end=None if cursor is None else {"cursor": cursor},
        )


def _stream_columns(db: Database, fields: Sequence[str]) -> list[ColumnElement[Any]]:
    """The members' id and `fields`, as the stream reads them.

    SQLite keeps datetimes as UTC text. Read as naive datetimes, which orjson writes as UTC
    (OPT_NAIVE_UTC), they give the same JSON as aware ones in a quarter less of the stream's
    time. Elsewhere they are read as the model declares them.
    """
    columns = member_columns(fields)
    if not db.is_sqlite:
        return columns
    return [
        type_coerce(column, DateTime()) if isinstance(column.type, UTCDateTime) else column
        for column in columns
    ]
