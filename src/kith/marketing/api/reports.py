"""Report routes: community activity, syncs and a mailing's, as JSON or CSV."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from kith.marketing.api.context import errors
from kith.marketing.reports.community import community_report
from kith.marketing.reports.mailing import mailing_report_of
from kith.marketing.reports.render import Report, csv_download
from kith.marketing.reports.sync import sync_report
from kith.marketing.reports.weeks import MAX_WEEKS
from kith.web.requests import PathId, db_of, json_response, now_of

router = APIRouter(tags=["Reports"])

Format = Annotated[
    Literal["json", "csv"],
    Query(alias="format", description="json (the report's structure) or csv (a row per figure)"),
]
Weeks = Annotated[int, Query(ge=1, le=MAX_WEEKS, description="How many weeks, the current last")]
FORMS: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {}, "text/csv": {}}, "description": "The report"},
    **errors(404, 422),
}


@router.get("/reports/community", responses=FORMS)
def get_community_report(
    request: Request,
    group: Annotated[str | None, Query(description="Only this target group's members")] = None,
    weeks: Weeks = 12,
    form: Format = "json",
) -> Response:
    """Community activity for every synced member (or a group's): activity by type per week,
    active and inactive members, top contributors, scores by grade, new members per week."""
    with db_of(request).session() as session:
        report = community_report(session, now=now_of(request), group=group, weeks=weeks)
    return _answer(report, form)


@router.get("/reports/sync", responses=FORMS)
def get_sync_report(
    request: Request,
    group: Annotated[str | None, Query(description="Only this community group")] = None,
    weeks: Weeks = 12,
    form: Format = "json",
) -> Response:
    """Sync runs per week by outcome, members added and removed, skip reasons, failures."""
    with db_of(request).session() as session:
        report = sync_report(session, now=now_of(request), group=group, weeks=weeks)
    return _answer(report, form)


@router.get("/reports/mailings/{mailing_id}", responses=FORMS)
def get_mailing_report(request: Request, mailing_id: PathId, form: Format = "json") -> Response:
    """A mailing's figures, overall and by community activity."""
    with db_of(request).session() as session:
        report = mailing_report_of(session, mailing_id, now=now_of(request))
    return _answer(report, form)


def _answer(report: Report, form: str) -> Response:
    if form == "csv":
        return csv_download(report)
    return json_response(report.as_json())
