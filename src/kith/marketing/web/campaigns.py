"""Campaigns: each with its activation group and, step by step, who waits there and what the
step did (counts per outcome); activate and pause."""

from __future__ import annotations

from fastapi import Request, Response
from sqlalchemy import select

from kith.marketing.campaigns.definition import activate, campaign_json, deactivate, get_campaign
from kith.marketing.campaigns.models import Campaign
from kith.web.requests import db_of, now_of
from kith.web.site import Admin, page_router, render, see_other

router = page_router()


@router.get("/campaigns", name="campaigns")
def campaigns(request: Request, visitor: Admin) -> Response:
    now = now_of(request)
    with db_of(request).session() as session:
        views = [
            campaign_json(session, campaign, now=now)
            for campaign in session.scalars(select(Campaign).order_by(Campaign.id))
        ]
    return render(request, "campaigns.html", campaigns=views)


@router.get("/campaigns/{campaign_id}", name="campaign")
def campaign(request: Request, visitor: Admin, campaign_id: int) -> Response:
    with db_of(request).session() as session:
        view = campaign_json(session, get_campaign(session, campaign_id), now=now_of(request))
    return render(request, "campaign.html", campaign=view)


@router.post("/campaigns/{campaign_id}/activate", name="activate_campaign")
def start(request: Request, visitor: Admin, campaign_id: int) -> Response:
    with db_of(request).transaction() as session:
        activate(session, str(campaign_id), now=now_of(request))
    return see_other(request, "campaign", campaign_id=campaign_id)


@router.post("/campaigns/{campaign_id}/deactivate", name="deactivate_campaign")
def pause(request: Request, visitor: Admin, campaign_id: int) -> Response:
    with db_of(request).transaction() as session:
        deactivate(session, str(campaign_id), now=now_of(request))
    return see_other(request, "campaign", campaign_id=campaign_id)
