"""The marketing REST API under /marketing/api: every route needs an admin API token."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from kith.marketing.api import campaigns, groups, integration, reports, scoring, subscribers
from kith.marketing.api.auth import api_token
from kith.marketing.api.context import errors

router = APIRouter(prefix="/api", dependencies=[Depends(api_token)], responses=errors(401))
router.include_router(subscribers.router)
router.include_router(groups.router)
router.include_router(integration.router)
router.include_router(campaigns.router)
router.include_router(reports.router)
router.include_router(scoring.router)
