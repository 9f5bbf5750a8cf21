"""The community API's Automation Rules: read them and who they match; Super Admins change them.

Changes are made as the credential's creator, who must still be a Super Admin.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from kith.community.api.auth import Credential
from kith.community.api.context import refusals
from kith.community.api.members import MEMBER_LINES, member_stream
from kith.community.automation import (
    RULES,
    create_rule,
    delete_rule,
    rule_summaries,
    rule_summary,
    update_rule,
)
from kith.community.saved_criteria import MATCHED_FIELDS
from kith.web.requests import db_of, json_response, now_of

router = APIRouter(tags=["Automation Rules"])


class RuleOut(BaseModel):
    key: str
    name: str
    action: str
    subject: str | None
    active: bool
    criteria: dict[str, Any]
    member_count: int | None
    error: str | None = Field(
        None, description="Why the rule could not be counted (member_count is then null)"
    )
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
    responses={200: MEMBER_LINES, **refusals("rule", 404)},
)
def stream_rule_members(request: Request, key: str) -> StreamingResponse:
    """Every member the rule matches now, one JSON object a line, whether or not it is active.

    The last line is `{"end": {"count": N}}`: a reader that does not see it knows the stream
    was cut short, even when the connection closed cleanly.
    """
    return member_stream(request, RULES, key, now=now_of(request), fields=MATCHED_FIELDS)


@router.post(
    "/automation-rules",
    status_code=201,
    response_model=RuleOut,
    responses=refusals("rule", 403, 409, 422),
)
def post_rule(request: Request, credential: Credential, body: RuleIn) -> Response:
    """Create a rule as the credential's creator, who must still be a Super Admin."""
    now = now_of(request)
    with db_of(request).transaction() as session:
        created = create_rule(session, **body.model_dump(), by=credential.created_by, now=now)
        summary = rule_summary(session, created, now=now)
    return json_response(summary.as_json(), status_code=201)


@router.put(
    "/automation-rules/{key}",
    response_model=RuleOut,
    responses=refusals("rule", 403, 404, 409, 422),
)
def put_rule(request: Request, credential: Credential, key: str, body: RuleChange) -> Response:
    """Change a rule (name, criteria, action, subject, active) as a Super Admin's credential.

    A rule moved off send_email drops its subject; one moved onto it needs one.
    """
    now = now_of(request)
    with db_of(request).transaction() as session:
        changed = update_rule(session, key, **body.model_dump(), by=credential.created_by, now=now)
        summary = rule_summary(session, changed, now=now)
    return json_response(summary.as_json())


@router.delete("/automation-rules/{key}", status_code=204, responses=refusals("rule", 403, 404))
def remove_rule(request: Request, credential: Credential, key: str) -> Response:
    """Delete a rule, as the credential's creator (a Super Admin)."""
    with db_of(request).transaction() as session:
        delete_rule(session, key, by=credential.created_by)
    return Response(status_code=204)
