"""Campaign routes: define, change, activate and watch campaigns (the scheduler runs them)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Request, Response
from pydantic import BaseModel
from sqlalchemy import select

from kith.marketing.api.context import errors
from kith.marketing.campaigns import archive, definition
from kith.marketing.campaigns.enrollments import enrollment_views
from kith.marketing.campaigns.models import Campaign
from kith.web.requests import db_of, json_response, now_of

router = APIRouter(tags=["Campaigns"])

DEFINITION = Body(
    ...,
    examples=[
        {
            "name": "Welcome",
            "activation": {"group": "Joined In The Last 7 Days", "mode": "both"},
            "steps": [
                {"id": "welcome", "mailing": "Welcome to the community"},
                {"id": "wait", "wait": {"days": 3}},
                {
                    "id": "posted",
                    "decide": {"member_of": "Posted In The Last 10 Days"},
                    "yes": [{"mailing": "Thanks for joining the conversation"}],
                    "no": [{"mailing": "Join the conversation"}],
                },
            ],
        }
    ],
)


class StepOut(BaseModel):
    id: str
    kind: str
    describe: str
    waiting: int
    done: int
    outcomes: dict[str, int]
    next: str | None = None
    yes: str | None = None
    no: str | None = None


class CampaignOut(BaseModel):
    id: int
    name: str
    status: str
    activation: dict[str, str]
    starts_at: str | None
    stops_at: str | None
    activated_at: str | None
    archived_at: str | None = None
    version: int
    enrolled: int
    in_progress: int
    completed: int
    steps: list[StepOut]


class ChangedOut(BaseModel):
    campaign: CampaignOut
    new_version: bool


class EnrollmentOut(BaseModel):
    email: str | None
    email_key: str
    version: int
    status: str
    step: str | None
    due_at: str | None
    enrolled_at: str
    finished_at: str | None


@router.get("/campaigns", response_model=list[CampaignOut])
def get_campaigns(request: Request, archived: bool = False) -> Response:
    """Every campaign with its steps' counts; archived ones too when `archived` is true."""
    query = select(Campaign).order_by(Campaign.id)
    if not archived:
        query = query.where(Campaign.archived_at.is_(None))
    with db_of(request).session() as session:
        views = [
            definition.campaign_json(session, campaign, now=now_of(request))
            for campaign in session.scalars(query)
        ]
    return json_response(views)


@router.post("/campaigns", status_code=201, response_model=CampaignOut, responses=errors(409, 422))
def post_campaign(request: Request, body: dict[str, Any] = DEFINITION) -> Response:
    """A new, inactive campaign; an invalid definition is refused naming the step."""
    with db_of(request).transaction() as session:
        campaign = definition.create_campaign(session, body, now=now_of(request))
        view = definition.campaign_json(session, campaign, now=now_of(request))
    return json_response(view, 201)


@router.get("/campaigns/{campaign}", response_model=CampaignOut, responses=errors(404))
def get_campaign(request: Request, campaign: str) -> Response:
    """A campaign (by id or name): per step, who waits there and what it did."""
    with db_of(request).session() as session:
        found = definition.get_campaign(session, campaign)
        return json_response(definition.campaign_json(session, found, now=now_of(request)))


@router.put("/campaigns/{campaign}", response_model=ChangedOut, responses=errors(404, 409, 422))
def put_campaign(request: Request, campaign: str, body: dict[str, Any] = DEFINITION) -> Response:
    """Change a campaign: unreached steps in place, a reached one as a new version."""
    with db_of(request).transaction() as session:
        changed, new_version = definition.change_campaign(
            session, campaign, body, now=now_of(request)
        )
        view = definition.campaign_json(session, changed, now=now_of(request))
    return json_response({"campaign": view, "new_version": new_version})


@router.post(
    "/campaigns/{campaign}/activate", response_model=CampaignOut, responses=errors(404, 409)
)
def post_activate(request: Request, campaign: str) -> Response:
    """Start (or resume) the campaign; the next tick enrolls people and runs steps."""
    with db_of(request).transaction() as session:
        found = definition.activate(session, campaign, now=now_of(request))
        view = definition.campaign_json(session, found, now=now_of(request))
    return json_response(view)


@router.post("/campaigns/{campaign}/deactivate", response_model=CampaignOut, responses=errors(404))
def post_deactivate(request: Request, campaign: str) -> Response:
    """Pause the campaign: nobody enters and no step runs until it is activated again."""
    with db_of(request).transaction() as session:
        found = definition.deactivate(session, campaign, now=now_of(request))
        view = definition.campaign_json(session, found, now=now_of(request))
    return json_response(view)


@router.delete("/campaigns/{campaign}", status_code=204, responses=errors(404, 409))
def delete_campaign(request: Request, campaign: str) -> Response:
    """Delete a campaign that never ran; one that ran is refused (409): archive it."""
    with db_of(request).transaction() as session:
        archive.delete_campaign(session, campaign)
    return Response(status_code=204)


@router.post(
    "/campaigns/{campaign}/archive", response_model=CampaignOut, responses=errors(404, 409)
)
def post_archive(request: Request, campaign: str) -> Response:
    """Stop the campaign if it runs and hide it from the list; its enrollments are kept."""
    with db_of(request).transaction() as session:
        found = archive.archive_campaign(session, campaign, now=now_of(request))
        view = definition.campaign_json(session, found, now=now_of(request))
    return json_response(view)


@router.post("/campaigns/{campaign}/unarchive", response_model=CampaignOut, responses=errors(404))
def post_unarchive(request: Request, campaign: str) -> Response:
    """List an archived campaign again; it stays stopped until activated."""
    with db_of(request).transaction() as session:
        found = archive.unarchive_campaign(session, campaign, now=now_of(request))
        view = definition.campaign_json(session, found, now=now_of(request))
    return json_response(view)


@router.get(
    "/campaigns/{campaign}/enrollments",
    response_model=list[EnrollmentOut],
    responses=errors(404),
)
def get_enrollments(request: Request, campaign: str) -> Response:
    """Who went into the campaign and where each is now."""
    with db_of(request).session() as session:
        views = enrollment_views(session, definition.get_campaign(session, campaign))
    return json_response(views)
