"""Reports: community activity, syncs and each mailing, as the report pages (with their SVG
charts) and CSV files that kith.marketing.reports writes."""

from __future__ import annotations

from fastapi import Request, Response
from sqlalchemy import select

from kith.marketing.groups.target_groups import list_groups
from kith.marketing.models import Mailing
from kith.marketing.reports.community import community_report
from kith.marketing.reports.mailing import mailing_report_of
from kith.marketing.reports.render import (
    Report,
    csv_download,
    render_html_part,
    report_style,
)
from kith.marketing.reports.sync import sync_report
from kith.web.requests import PathId, db_of, now_of
from kith.web.site import Admin, page_router, render

router = page_router()

WEEKS = 12
MAX_WEEKS = 104


@router.get("/reports", name="reports")
def reports(request: Request, visitor: Admin) -> Response:
    """Which report: community activity or syncs (all groups or one), or a mailing's."""
    with db_of(request).session() as session:
        groups = list_groups(session)
        mailings = list(
            session.scalars(
                select(Mailing).where(Mailing.prepared_at.is_not(None)).order_by(Mailing.id.desc())
            )
        )
    return render(request, "reports.html", groups=groups, mailings=mailings, weeks=WEEKS)


@router.get("/reports/community", name="community_report")
def community(
    request: Request, visitor: Admin, group: str = "", weeks: int = WEEKS, format: str = "html"
) -> Response:
    with db_of(request).session() as session:
        report = community_report(
            session, now=now_of(request), group=group or None, weeks=_weeks(weeks)
        )
    return _written(request, report, format)


@router.get("/reports/sync", name="sync_report")
def sync(
    request: Request, visitor: Admin, group: str = "", weeks: int = WEEKS, format: str = "html"
) -> Response:
    with db_of(request).session() as session:
        report = sync_report(session, now=now_of(request), group=group or None, weeks=_weeks(weeks))
    return _written(request, report, format)


@router.get("/reports/mailings/{mailing_id}", name="mailing_report")
def mailing(request: Request, visitor: Admin, mailing_id: PathId, format: str = "html") -> Response:
    with db_of(request).session() as session:
        report = mailing_report_of(session, mailing_id, now=now_of(request))
    return _written(request, report, format)


def _weeks(weeks: int) -> int:
    return min(max(1, weeks), MAX_WEEKS)


def _written(request: Request, report: Report, format: str) -> Response:
    """The report as a page of the admin (menu, trail, a way back to Reports), or its CSV."""
    if format == "csv":
        return csv_download(report)
    as_csv = request.url.include_query_params(format="csv")
    return render(
        request,
        "report_page.html",
        report=report,
        sections=render_html_part(report),
        style=report_style(),
        csv_link=f"{as_csv.path}?{as_csv.query}",
    )
