"""Contacts > Groups, the connection's part: Refresh Target Group List, Sync Target Group
Now / Resync Now, and the diagnosis ("why isn't my list here?", "why do counts differ?").

Marketing cannot import the connection, so kith.app adds this router to the marketing app;
its pages are marketing's (kith.marketing.web.groups), filled with what the connection found.
"""

from __future__ import annotations

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from starlette.background import BackgroundTask

from kith.connection.client import ConnectionFailed, client_for
from kith.connection.diagnose import diagnose
from kith.connection.refresh import refresh_groups
from kith.connection.runs import SyncRuns
from kith.encryption import SecretBox
from kith.marketing.groups.community import ONLINE_COMMUNITY
from kith.marketing.web.groups import group_by_id, group_info_page, groups_page
from kith.web.requests import PathId, db_of, now_of, settings_of
from kith.web.site import (
    Admin,
    FormData,
    admin,
    page_router,
    render,
    see_other,
    url_path,
    wants_json,
)

router = page_router(admin)


@router.post("/groups/refresh", name="refresh_target_group_list")
def refresh(request: Request, visitor: Admin) -> Response:
    """Read the community's lists and bring the Online Community folder in line; the page shows
    the folder and what changed, with every list not taken and why."""
    box = SecretBox.from_settings(settings_of(request))
    try:
        with db_of(request).transaction() as session, client_for(session, box) as client:
            report = refresh_groups(session, client, now=now_of(request))
    except ConnectionFailed as failure:
        return groups_page(
            request,
            folder=ONLINE_COMMUNITY,
            refresh_error=str(failure),
            status_code=failure.http_status,
        )
    return groups_page(request, folder=ONLINE_COMMUNITY, refresh=report.as_json())


@router.post("/groups/{group_id}/sync", name="sync_target_group")
def sync(request: Request, visitor: Admin, group_id: PathId, form: FormData) -> Response:
    """Sync Target Group Now (or Resync Now): a background job; when no worker runs, it runs
    here once the answer is sent. The page's script polls the run (kith.marketing.web.groups)."""
    runs = SyncRuns(db_of(request), settings_of(request))
    requested = runs.queue(
        group_id, trigger="manual", now=now_of(request), allow_empty=form.checked("allow_empty")
    )
    run = requested.run
    response: Response
    if wants_json(request):
        poll = url_path(request, "sync_run", group_id=group_id, run_id=run.id)
        response = JSONResponse({"run": run.id, "status": run.status, "poll": poll}, 202)
    else:
        response = see_other(request, "group_info", group_id=group_id)
    if runs.nobody_else_will_run():
        response.background = BackgroundTask(runs.carry_out, run.id)
    return response


@router.get("/groups/{group_id}/diagnosis", name="group_diagnosis")
def group_diagnosis(request: Request, visitor: Admin, group_id: PathId) -> Response:
    """Why the group's count differs from its list's (or why it does not sync)."""
    with db_of(request).session() as session:
        name = group_by_id(session, group_id).name
        found = diagnose(session, SecretBox.from_settings(settings_of(request)), name)
    return group_info_page(request, group_id, tab="diagnosis", diagnosis=found.as_json())


@router.get("/diagnose", name="diagnose_list")
def diagnose_list(request: Request, visitor: Admin, name: str = "") -> Response:
    """Why isn't my list here? Asked by the list's (or a group's) name."""
    found = None
    if name.strip():
        with db_of(request).session() as session:
            found = diagnose(session, SecretBox.from_settings(settings_of(request)), name.strip())
    return render(request, "diagnose.html", name=name, diagnosis=found.as_json() if found else None)
