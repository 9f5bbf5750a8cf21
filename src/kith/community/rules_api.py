"""The community API's Automation Rules: read them and who they match; Super Admins change them.

Authenticated like the rest of the API (HLIAMKey and HLPassword); changes are made as the
credential's creator, who must still be a Super Admin.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from kith.community.api import AUTH_RESPONSES, STREAM_CHUNK, Credential, api_credential
from kith.community.automation import (
    create_rule,
    delete_rule,
    get_rule,
    matched_member_chunks,
    rule_member_ids_query,
    rule_summaries,
    rule_summary,
    update_rule,
)
from kith.db import Database
from kith.web.requests import ErrorOut, counted_ndjson, db_of, json_response, now_of

router = APIRouter(
    prefix="/api/v1",
    tags=["Automation Rules"],
    dependencies=[Depends(api_credential)],
    responses=AUTH_RESPONSES,
)


class RuleOut(BaseModel):
    key: str
    name: str
    action: str
    subject: str | None
    active: bool
    criteria: dict[str, Any]
    member_count: int | None
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime


class RuleIn(BaseModel):
    name: str
    criteria: dict[str, Any]
    action: str
    subject: str | None = None
    active: bool = True


class RuleChange(BaseModel):
    """What to change; a field left out is kept."""

    name: str | None = None
    criteria: dict[str, Any] | None = None
    action: str | None = None
    subject: str | None = None
    active: bool | None = None


NOT_FOUND: dict[str, Any] = {"model": ErrorOut, "description": "No rule has this key or name"}
CHANGES: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorOut, "description": "The credential's creator is not a Super Admin"},
    409: {"model": ErrorOut, "description": "Another rule has this name"},
    422: {"model": ErrorOut, "description": "Invalid input; the message names the field or node"},
}


@router.get("/automation-rules", response_model=list[RuleOut])
def get_rules(
    request: Request,
    active: Annotated[
        bool | None, Query(description="Only active (true) or inactive rules")
    ] = None,
    action: Annotated[str | None, Query(description="Only rules with this action")] = None,
    counts: Annotated[
        bool, Query(description="Count each rule's members (false: member_count is null)")
    ] = True,
) -> Response:
    """The Automation Rules by name, each with the number of members it matches now."""
    with db_of(request).session() as session:
        summaries = rule_summaries(
            session, now=now_of(request), active=active, action=action, counts=counts
        )
    return json_response([summary.as_json() for summary in summaries])


@router.get(
    "/automation-rules/{key}/members.ndjson",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/x-ndjson": {}}, "description": "One member a line"},
        404: NOT_FOUND,
    },
)
def stream_rule_members(request: Request, key: str) -> StreamingResponse:
    """Every member the rule matches now, one JSON object a line, whether or not it is active.

    The last line is `{"end": {"count": N}}`: a reader that does not see it knows the stream
    was cut short, even when the connection closed cleanly.
    """
    db, now = db_of(request), now_of(request)
    with db.session() as session:
        rule = get_rule(session, key)
        rule_member_ids_query(session, rule, now)  # fail now, not mid-stream
    return StreamingResponse(
        _member_lines(db, rule.rule_key, now), media_type="application/x-ndjson"
    )


@router.post("/automation-rules", status_code=201, response_model=RuleOut, responses=CHANGES)
def post_rule(request: Request, credential: Credential, body: RuleIn) -> Response:
    """Create a rule as the credential's creator, who must still be a Super Admin."""
    now = now_of(request)
    with db_of(request).transaction() as session:
        created = create_rule(
            session,
            name=body.name,
            criteria=body.criteria,
            action=body.action,
            subject=body.subject,
            active=body.active,
            by=credential.created_by,
            now=now,
        )
        summary = rule_summary(session, created, now=now)
    return json_response(summary.as_json(), status_code=201)


@router.put(
    "/automation-rules/{key}", response_model=RuleOut, responses={404: NOT_FOUND, **CHANGES}
)
def put_rule(request: Request, credential: Credential, key: str, body: RuleChange) -> Response:
    """Change a rule (name, criteria, action, subject, active) as a Super Admin's credential.

    A rule moved off send_email drops its subject; one moved onto it needs one.
    """
    now = now_of(request)
    with db_of(request).transaction() as session:
        changed = update_rule(
            session,
            key,
            by=credential.created_by,
            now=now,
            name=body.name,
            criteria=body.criteria,
            action=body.action,
            subject=body.subject,
            active=body.active,
        )
        summary = rule_summary(session, changed, now=now)
    return json_response(summary.as_json())


@router.delete(
    "/automation-rules/{key}", status_code=204, responses={403: CHANGES[403], 404: NOT_FOUND}
)
def remove_rule(request: Request, credential: Credential, key: str) -> Response:
    """Delete a rule, as the credential's creator (a Super Admin)."""
    with db_of(request).transaction() as session:
        delete_rule(session, key, by=credential.created_by)
    return Response(status_code=204)


def _member_lines(db: Database, rule_key: str, now: datetime) -> Iterator[bytes]:
    """The rule's members as NDJSON from one evaluation in bounded chunks, then the count."""
    with db.session() as session:
        rule = get_rule(session, rule_key)
        chunks = matched_member_chunks(session, rule, now=now, chunk=STREAM_CHUNK)
        yield from counted_ndjson([member.as_json() for member in members] for members in chunks)
