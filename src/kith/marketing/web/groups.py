"""Contacts > Groups: the folder dropdown, the groups with their menus, and each group's Info.

Info has tabs: Overview (the sync button and the live result; for a community group, whether it
is live or manual, with its switch, and the last change applied), History (sync runs), Rejected
members (with a CSV download) and, when the connection is installed, Diagnosis. Syncing and
refreshing are the connection's (kith.connection.web), which renders these same pages.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from fastapi import Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy.orm import Session

from kith.csvexport import csv_chunks
from kith.db import Database
from kith.errors import InvalidInput, NotFound
from kith.marketing.groups.community import ONLINE_COMMUNITY
from kith.marketing.groups.deletion import delete_group
from kith.marketing.groups.folders import list_folders
from kith.marketing.groups.live import live_state, switch_live
from kith.marketing.groups.sync_history import (
    REJECTION_COLUMNS,
    check_reason,
    get_run,
    last_completed_run,
    rejected_members,
    rejected_people,
    sync_runs,
)
from kith.marketing.groups.target_groups import list_groups, summarize
from kith.marketing.models import SKIP_REASONS, TargetGroup
from kith.web.paging import page_of_list
from kith.web.requests import PathId, db_of, now_of
from kith.web.site import Admin, FormData, back_to_page, page_router, render, see_other, site_of

router = page_router()
# before /groups/{group_id}, which would take "refresh" for an id; the form is the
# connection's (kith.connection.web.groups), its page this module's
back_to_page(router, "/groups/refresh", "groups")
back_to_page(router, "/groups/{group_id}/delete", "groups", same_ids=False)
back_to_page(router, "/groups/{group_id}/sync", "group_info")

TABS = ("overview", "history", "rejected", "diagnosis")
REJECTED_SHOWN = 200
# The skip reasons in words, in the order a sync decides them.
SKIP_WORDS = {
    "missing_contact_key": "no Legacy Contact Key in the community",
    "malformed_email": "email address not valid",
    "duplicate_email": "email address shared with another member",
    "no_matching_subscriber": "no subscriber has the key as Remote ID",
    "unsubscribed": "unsubscribed",
    "bounced": "bounced",
    "erased": "erased here at the person's request",
}
assert tuple(SKIP_WORDS) == SKIP_REASONS


@router.get("/groups", name="groups")
def groups(
    request: Request, visitor: Admin, folder: str = "", q: str = "", page: int = 1
) -> Response:
    return groups_page(request, folder=folder, q=q, page=page)


@router.get("/groups/{group_id}", name="group_info")
def group_info(
    request: Request,
    visitor: Admin,
    group_id: PathId,
    tab: str = "overview",
    reason: str = "",
) -> Response:
    return group_info_page(request, group_id, tab=tab, reason=reason or None)


@router.post("/groups/{group_id}/delete", name="delete_group")
def delete(request: Request, visitor: Admin, group_id: PathId) -> Response:
    """Delete a group, then the groups; refused (409) naming whatever still uses it."""
    with db_of(request).transaction() as session:
        delete_group(session, group_by_id(session, group_id).name)
    return see_other(request, "groups")


@router.post("/groups/{group_id}/live", name="switch_live")
def switch(request: Request, visitor: Admin, group_id: PathId, form: FormData) -> Response:
    """Switch a community group to live (`live=on`) or to manual (`live=off`), then its Info."""
    live = {"on": True, "off": False}.get(form.text("live"))
    if live is None:
        raise InvalidInput(f"live: {form.text('live')!r} is neither 'on' nor 'off'")
    with db_of(request).transaction() as session:
        switch_live(session, group_by_id(session, group_id), live)
    return see_other(request, "group_info", group_id=group_id)


@router.get("/groups/{group_id}/runs/{run_id}", name="sync_run")
def sync_run(request: Request, visitor: Admin, group_id: PathId, run_id: PathId) -> Response:
    """A run's state for the Overview's live region: done or not, and its result as HTML."""
    with db_of(request).session() as session:
        group = group_by_id(session, group_id)
        run = get_run(session, group, run_id)
        html = (
            site_of(request)
            .templates.get_template("sync_run.html")
            .render(run=run, skip_words=SKIP_WORDS)
        )
        done = run.status != "in progress"
        facts = _overview_facts(request, session, group) if done else {}
    return JSONResponse({"done": done, "status": run.status, "html": html, "facts": facts})


def _overview_facts(request: Request, session: Session, group: TargetGroup) -> dict[str, str]:
    """The Overview's values a sync changes, by element id, as the page shows them."""
    filters = site_of(request).templates.filters
    synced = group.last_synced_at
    return {
        "member-count": filters["number"](summarize(session, group).member_count),
        "last-synced": filters["when"](synced) if synced else "never",
    }


@router.get("/groups/{group_id}/rejected.csv", name="rejected_csv")
def rejected_csv(request: Request, visitor: Admin, group_id: PathId, reason: str = "") -> Response:
    """The members the last completed sync left out, with the reason, as CSV."""
    db = db_of(request)
    with db.session() as session:
        group = group_by_id(session, group_id)
        run = last_completed_run(session, group)
        if run is None:
            raise NotFound(f"{group.name!r} has no completed sync yet")
        if reason:
            check_reason(reason)
    return StreamingResponse(
        _csv_rows(db, group_id, run.id, reason or None),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="rejected-members-{group_id}.csv"'},
    )


def groups_page(
    request: Request,
    *,
    folder: str,
    q: str = "",
    page: int = 1,
    refresh: dict[str, Any] | None = None,
    refresh_error: str | None = None,
    status_code: int = 200,
) -> Response:
    """The groups of one folder (every folder when blank) whose name contains `q`, a page at a
    time, with a refresh's report if any.

    Online Community is offered before the first refresh has created it, as the place to go.
    """
    with db_of(request).session() as session:
        names = [each.name for each in list_folders(session)]
        chosen = next((name for name in names if name.lower() == folder.strip().lower()), "")
        summaries = list_groups(session, folder=chosen or None, named=q)
    if ONLINE_COMMUNITY not in names:
        names.append(ONLINE_COMMUNITY)
        if folder.strip().lower() == ONLINE_COMMUNITY.lower():
            chosen, summaries = ONLINE_COMMUNITY, []
    shown = page_of_list(summaries, number=page)
    return render(
        request,
        "groups.html",
        status_code=status_code,
        folders=names,
        folder=chosen,
        online_community=ONLINE_COMMUNITY,
        groups=shown.rows,
        found=shown,
        q=q,
        page_link=lambda number: "?" + urlencode({"folder": chosen, "q": q, "page": number}),
        refresh=refresh,
        refresh_error=refresh_error,
    )


def group_info_page(
    request: Request,
    group_id: int,
    *,
    tab: str = "overview",
    reason: str | None = None,
    diagnosis: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    """The Info panel of a group on one of its tabs."""
    if tab not in TABS:
        tab = "overview"
    if reason:
        check_reason(reason)
    db = db_of(request)
    with db.session() as session:
        group = group_by_id(session, group_id)
        summary = summarize(session, group)
        runs = sync_runs(session, group)
        completed = last_completed_run(session, group)
        rejected = (
            rejected_people(session, completed, reason=reason, limit=REJECTED_SHOWN)
            if completed is not None and tab == "rejected"
            else []
        )
    live = live_state(db, group, now=now_of(request)) if group.kind == "community" else None
    return render(
        request,
        "group_info.html",
        status_code=status_code,
        group=group,
        summary=summary,
        tab=tab,
        runs=runs,
        latest=runs[0] if runs else None,
        completed=completed,
        rejected=rejected,
        rejected_shown=REJECTED_SHOWN,
        reason=reason or "",
        skip_words=SKIP_WORDS,
        diagnosis=diagnosis,
        live=live,
    )


def group_by_id(session: Session, group_id: int) -> TargetGroup:
    group = session.get(TargetGroup, group_id)
    if group is None:
        raise NotFound(f"no target group has the id {group_id}")
    return group


def _csv_rows(db: Database, group_id: int, run_id: int, reason: str | None) -> Iterator[str]:
    with db.session() as session:
        group = group_by_id(session, group_id)
        run = get_run(session, group, run_id)
        rows = (row.values() for row in rejected_members(session, run, reason=reason))
        yield from csv_chunks(REJECTION_COLUMNS, rows)
