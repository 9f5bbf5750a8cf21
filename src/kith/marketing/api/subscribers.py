"""Subscriber routes: list, show, upsert one, change a status, import a CSV body; export or
erase one person's data."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from tempfile import SpooledTemporaryFile
from typing import IO, Annotated, Any, cast

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from kith.csvimport.report import ImportRejected, ImportReport
from kith.csvimport.rows import RowRejected
from kith.db import Database
from kith.encryption import SecretBox
from kith.erasures import ErasureOut, erasure_json, forget_deleted_rows
from kith.errors import InvalidInput
from kith.marketing.api.auth import api_token
from kith.marketing.api.context import RejectedOut, errors, json_array, rejected_response
from kith.marketing.mailings.outbox import outbox_folder
from kith.marketing.models import ApiToken
from kith.marketing.personal_data import erase_subscriber, export_subscriber, lift_erasure
from kith.marketing.subscriber_import import (
    FIELD_NAME_LENGTH,
    SubscriberRow,
    SubscriberUpsert,
    import_subscribers,
    subscriber_row,
)
from kith.marketing.subscribers import (
    check_status,
    find_subscriber,
    iter_subscribers,
    set_status,
    status_history,
    subscriber_json,
)
from kith.web.requests import db_of, json_response, now_of, settings_of

# A CSV body is spooled to disk past this size, so an import holds a bounded window in memory.
SPOOLED_BYTES = 8 * 1024 * 1024
CSV_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "UTF-8 CSV whose header names email, remote_id, first_name, last_name,"
        " status; other columns are personalization fields.",
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": "email,remote_id,first_name,last_name,status\n"
                "ann@example.org,R-1,Ann,Lee,subscribed\n",
            }
        },
    }
}

router = APIRouter(tags=["Subscribers"])
Token = Annotated[ApiToken, Depends(api_token)]


class SubscriberOut(BaseModel):
    email: str
    remote_id: str | None
    first_name: str | None
    last_name: str | None
    status: str
    fields: dict[str, Any]
    source: str
    created_at: datetime
    updated_at: datetime


class EvidenceOut(BaseModel):
    """The bounce or complaint that decided a status change."""

    kind: str
    mailing: int | None
    status_code: str | None
    diagnostic: str | None
    message: int  # the stored message (kith bounces show N)


class StatusChangeOut(BaseModel):
    at: datetime
    from_status: str = Field(alias="from")
    to: str
    reason: str  # hard_bounce, soft_bounces, complaint, unsubscribe_link, marketer
    evidence: EvidenceOut | None = None


class SubscriberRecordOut(SubscriberOut):
    """A subscriber with the history of their status: each change, why, and its evidence."""

    history: list[StatusChangeOut]


class SubscriberIn(BaseModel):
    """One subscriber, upserted as an import row is: by remote_id when given, else by email.

    A missing status keeps the stored one (new subscribers are subscribed), and an upsert never
    resubscribes an unsubscribed or bounced subscriber: PUT .../status does that. `fields` sets
    personalization fields; null clears one, and fields not named are kept.
    """

    email: str
    remote_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    status: str | None = None
    fields: dict[str, str | None] = {}


class SubscriberDataOut(BaseModel):
    """Every record of one subscriber, a section per kind."""

    side: str
    subscriber: dict[str, Any]
    groups: list[dict[str, Any]]
    sync_skips: list[dict[str, Any]]
    community_list_members: list[dict[str, Any]]
    community_list_recent: list[dict[str, Any]]
    deliveries: list[dict[str, Any]]
    campaign_enrollments: list[dict[str, Any]]
    campaign_baselines: list[str]
    score: dict[str, Any] | None
    community_member: dict[str, Any] | None
    community_activity_days: list[dict[str, Any]]
    notifications: list[dict[str, Any]]
    outbox: list[dict[str, str]]


class StatusIn(BaseModel):
    status: str


class ImportReportOut(BaseModel):
    imported: int
    updated: int
    duplicates: int
    rejected: list[dict[str, Any]]


@router.get(
    "/subscribers",
    response_model=list[SubscriberOut],
    responses=errors(422),
)
def get_subscribers(request: Request, status: str | None = None) -> StreamingResponse:
    """Every subscriber (or those with one status) oldest first, streamed as one JSON array."""
    if status is not None:
        check_status(status)  # fail now, not mid-stream
    return StreamingResponse(
        _subscriber_stream(db_of(request), status), media_type="application/json"
    )


@router.post(
    "/subscribers",
    response_model=SubscriberOut,
    responses={201: {"model": SubscriberOut, "description": "Created"}, **errors(422)},
)
def post_subscriber(request: Request, body: SubscriberIn) -> Response:
    """Create or update one subscriber: 201 when created, 200 when updated."""
    row = _subscriber_row(body)
    report = ImportReport()
    with db_of(request).transaction() as session:
        SubscriberUpsert(session, now=now_of(request), source="api").write([row], report)
        if report.rejected:
            raise InvalidInput(report.rejected[0]["reason"])
        view = subscriber_json(find_subscriber(session, row.remote_id or row.email))
    return json_response(view, status_code=201 if report.imported else 200)


@router.get(
    "/subscribers/{reference}",
    response_model=SubscriberRecordOut,
    responses=errors(404, 422),
)
def get_subscriber(request: Request, reference: str) -> Response:
    """One subscriber, by Remote ID or else by email, with the history of their status (each
    change's reason, and for a bounce or complaint its mailing, status code and diagnostic)."""
    with db_of(request).session() as session:
        subscriber = find_subscriber(session, reference)
        view = subscriber_json(subscriber) | {"history": status_history(session, subscriber)}
    return json_response(view)


@router.put(
    "/subscribers/{reference}/status",
    response_model=SubscriberOut,
    responses=errors(404, 422),
)
def put_subscriber_status(request: Request, reference: str, body: StatusIn) -> Response:
    """Subscribe, unsubscribe or mark as bounced (the only way back to subscribed)."""
    with db_of(request).transaction() as session:
        view = subscriber_json(set_status(session, reference, body.status, now=now_of(request)))
    return json_response(view)


@router.post(
    "/subscribers/import",
    response_model=ImportReportOut,
    responses={
        422: {
            "model": RejectedOut,
            "description": "Invalid header or body; under strict, every rejected row "
            "(nothing was imported)",
        }
    },
    openapi_extra=CSV_BODY,
)
async def post_subscriber_import(request: Request, strict: bool = False) -> Response:
    """Import a CSV body as `kith marketing subscribers import` does; the body is the report.

    Valid rows are imported and each rejected row is reported with its line (the header is
    line 1); with `strict`, any rejected row imports nothing and answers 422 with the rows.
    """
    db, now = db_of(request), now_of(request)
    with SpooledTemporaryFile(max_size=SPOOLED_BYTES) as upload:
        async for chunk in request.stream():
            upload.write(chunk)
        upload.seek(0)
        return await run_in_threadpool(_import_csv, db, cast(IO[bytes], upload), now, strict)


def _import_csv(db: Database, upload: IO[bytes], now: datetime, strict: bool) -> Response:
    reader = csv.reader(io.TextIOWrapper(upload, encoding="utf-8-sig", newline=""))
    try:
        with db.bulk_transaction() as session:
            report = import_subscribers(session, reader, now=now, strict=strict)
    except ImportRejected as rejected:
        return rejected_response(rejected)
    except csv.Error as error:
        raise InvalidInput(f"line {reader.line_num}: {error}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"the body is not UTF-8 text (after line {reader.line_num})") from None
    return json_response(report.as_json())


def _subscriber_stream(db: Database, status: str | None) -> Iterator[bytes]:
    with db.session() as session:
        yield from json_array(map(subscriber_json, iter_subscribers(session, status=status)))


def _subscriber_row(body: SubscriberIn) -> SubscriberRow:
    """The body as an import row, checked by the rules a CSV row is checked by."""
    too_long = [name for name in body.fields if not name or len(name) > FIELD_NAME_LENGTH]
    if too_long:
        raise InvalidInput(
            f"fields: a personalization field name has 1 to {FIELD_NAME_LENGTH} characters,"
            f" not {len(too_long[0])}"
        )
    try:
        return subscriber_row(
            1,
            body.email,
            body.remote_id or "",
            body.first_name or "",
            body.last_name or "",
            body.status or "",
            fields={name: value or "" for name, value in body.fields.items()},
        )
    except RowRejected as reason:
        raise InvalidInput(str(reason)) from None


@router.get(
    "/subscribers/{reference}/data",
    response_model=SubscriberDataOut,
    responses=errors(404, 422),
)
def get_subscriber_data(request: Request, reference: str) -> Response:
    """Everything marketing keeps about the subscriber (by Remote ID or else email), messages
    stored in the outbox folder included."""
    with db_of(request).session() as session:
        document = export_subscriber(session, reference, outbox=_outbox(request))
    return json_response(document)


@router.delete(
    "/subscribers/{reference}",
    response_model=ErasureOut,
    responses=errors(404, 422),
)
def erase(request: Request, token: Token, reference: str) -> Response:
    """Erase the subscriber for good (reports keep anonymous counts); the answer is the record
    of the erase, which names nobody but the token that asked."""
    db = db_of(request)
    with db.transaction() as session:
        erasure = erase_subscriber(
            session,
            reference,
            by=f"API token {token.name} ({token.prefix})",
            box=SecretBox.from_settings(settings_of(request)),
            now=now_of(request),
            outbox=_outbox(request),
        )
    forget_deleted_rows(db)
    return json_response(erasure_json(erasure))


@router.delete("/erased/{reference}", status_code=204, responses=errors(404))
def lift(request: Request, reference: str) -> Response:
    """Let the platform edition's sync create an erased person (by email or Remote ID) again."""
    with db_of(request).transaction() as session:
        lift_erasure(session, reference, box=SecretBox.from_settings(settings_of(request)))
    return Response(status_code=204)


def _outbox(request: Request) -> Path:
    return outbox_folder(settings_of(request).data_dir)
