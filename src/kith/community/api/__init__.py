"""The community HTTP API under /api/v1 that the connection reads: every route authenticates
with the HLIAMKey and HLPassword headers of an API credential.

Routes parse, call a service and format; JSON is written with orjson because member pages run
to 10,000 rows.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from kith.community.api import activity, lists, personal_data, rules
from kith.community.api.auth import AUTH_RESPONSES, api_credential

router = APIRouter(
    prefix="/api/v1", dependencies=[Depends(api_credential)], responses=AUTH_RESPONSES
)
router.include_router(lists.router)
router.include_router(activity.router)
router.include_router(rules.router)
router.include_router(personal_data.router)
