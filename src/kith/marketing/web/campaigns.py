"""Campaigns: each with its activation group and, step by step, who waits there and what the
step did (counts per outcome); a new one from a template or built in the designer; editing in
the designer, which asks first what saving would do; activate and pause."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from kith.errors import KithError, NotFound
from kith.marketing.campaigns.archive import (
    archive_campaign,
    delete_campaign,
    has_run,
    unarchive_campaign,
)
from kith.marketing.campaigns.definition import (
    activate,
    campaign_definition,
    campaign_json,
    change_campaign,
    create_campaign,
    current_version,
    deactivate,
    get_campaign,
    planned_changes,
)
from kith.marketing.campaigns.enrollments import at_step
from kith.marketing.campaigns.models import ACTIVATION_WORDS
from kith.marketing.campaigns.not_synced import campaigns_not_synced
from kith.marketing.campaigns.steps import WEEKDAYS
from kith.marketing.campaigns.templates import TEMPLATES, create_from_template
from kith.marketing.models import Mailing, TargetGroup
from kith.marketing.web.search import search_campaigns, search_subscribers
from kith.web.forms import parse_json_field
from kith.web.requests import PathId, db_of, now_of
from kith.web.site import (
    Admin,
    FormData,
    JsonBody,
    back_to_page,
    page_router,
    render,
    render_form,
    see_other,
    url_path,
)

router = page_router()
back_to_page(router, "/campaigns/{campaign_id}/activate", "campaign")
back_to_page(router, "/campaigns/{campaign_id}/deactivate", "campaign")
back_to_page(router, "/campaigns/{campaign_id}/edit/check", "edit_campaign")
back_to_page(router, "/campaigns/{campaign_id}/delete", "campaign")
back_to_page(router, "/campaigns/{campaign_id}/archive", "campaign")
back_to_page(router, "/campaigns/{campaign_id}/unarchive", "campaign")

# what the designer starts a new campaign with: a first step to fill in
NEW_CAMPAIGN = {
    "name": "",
    "activation": {"group": "", "mode": "both"},
    "steps": [{"id": "mailing-1", "mailing": ""}],
}


@router.get("/campaigns", name="campaigns")
def campaigns(
    request: Request, visitor: Admin, q: str = "", archived: str = "", page: int = 1
) -> Response:
    """The campaigns with their counts, and any working from a group left unsynced, searched by
    name, a page at a time; archived ones when asked for."""
    now = now_of(request)
    with db_of(request).session() as session:
        found = search_campaigns(session, q, archived=bool(archived), page=page)
        views = [campaign_json(session, campaign, now=now) for campaign in found.rows]
        not_synced = campaigns_not_synced(session, found.rows)
    return render(
        request,
        "campaigns.html",
        campaigns=views,
        modes=ACTIVATION_WORDS,
        not_synced=not_synced,
        found=found,
        q=q,
        archived=bool(archived),
        page_link=lambda number: "?" + urlencode({"q": q, "archived": archived, "page": number}),
    )


@router.get("/campaigns/new", name="new_campaign")
def new_campaign(request: Request, visitor: Admin) -> Response:
    return _creator(request, {"template": "", "definition": _as_text(NEW_CAMPAIGN)})


@router.post("/campaigns/new")
def create(request: Request, visitor: Admin, form: FormData) -> Response:
    """A new, inactive campaign: from a template (which makes its lists and mailings too), or
    from the definition typed in."""
    values = {"template": form.text("template"), "definition": form.get("definition")}
    db, now = db_of(request), now_of(request)
    try:
        if values["template"]:
            campaign_id = create_from_template(db, values["template"], now=now)
        else:
            written = parse_json_field(values["definition"], "definition")
            with db.transaction() as session:
                campaign_id = create_campaign(session, written, now=now).id
    except KithError as error:
        return _creator(request, values, error=error)
    return see_other(request, "campaign", campaign_id=campaign_id)


@router.get("/campaigns/{campaign_id}", name="campaign")
def campaign(
    request: Request, visitor: Admin, campaign_id: PathId, saved: str | None = None
) -> Response:
    with db_of(request).session() as session:
        found = get_campaign(session, campaign_id)
        view = campaign_json(session, found, now=now_of(request))
        not_synced = campaigns_not_synced(session, [found]).get(found.id, [])
        ran = has_run(session, found)
    return render(
        request,
        "campaign.html",
        campaign=view,
        modes=ACTIVATION_WORDS,
        saved=saved,
        not_synced=not_synced,
        ran=ran,
    )


@router.get("/campaigns/{campaign_id}/people", name="step_people")
def step_people(
    request: Request,
    visitor: Admin,
    campaign_id: PathId,
    step: str,
    passed: bool = False,
    q: str = "",
    page: int = 1,
) -> Response:
    """Who waits at a step of the campaign's current version, or who passed it."""
    with db_of(request).session() as session:
        campaign = get_campaign(session, campaign_id)
        if step not in current_version(session, campaign).steps:
            raise NotFound(f"campaign {campaign.name!r} has no step {step!r} now")
        within = at_step(campaign, step, passed=passed)
        found = search_subscribers(session, q, page=page, within=within)
    return render(
        request,
        "campaign_step_people.html",
        campaign=campaign,
        step=step,
        passed=passed,
        found=found,
        q=q,
        page_link=lambda number: (
            "?" + urlencode({"step": step, "passed": passed, "q": q, "page": number})
        ),
    )


@router.get("/campaigns/{campaign_id}/edit", name="edit_campaign")
def edit_campaign(request: Request, visitor: Admin, campaign_id: PathId) -> Response:
    with db_of(request).session() as session:
        written = campaign_definition(session, get_campaign(session, campaign_id))
    return _editor(request, campaign_id, _as_text(written))


@router.post("/campaigns/{campaign_id}/edit")
def change(request: Request, visitor: Admin, campaign_id: PathId, form: FormData) -> Response:
    """Save an edited definition: in place, or as a new version when a reached step changed
    (change_campaign); the campaign's page then says which."""
    text = form.get("definition")
    try:
        written = parse_json_field(text, "definition")
        with db_of(request).transaction() as session:
            _, new_version = change_campaign(
                session, str(campaign_id), written, now=now_of(request)
            )
    except KithError as error:
        return _editor(request, campaign_id, text, error=error)
    saved = "new_version" if new_version else "in_place"
    return see_other(request, "campaign", {"saved": saved}, campaign_id=campaign_id)


@router.post("/campaigns/{campaign_id}/edit/check", name="check_campaign_change")
def check_change(request: Request, visitor: Admin, campaign_id: PathId, body: JsonBody) -> Response:
    """What saving this draft would do, nothing saved: the steps that change in place and
    those whose change makes a new version; or why it cannot be saved, and where."""
    definition = body.get("definition") if isinstance(body, dict) else None
    try:
        with db_of(request).session() as session:
            changes = planned_changes(session, str(campaign_id), definition)
    except KithError as error:
        return JSONResponse(_refusal(error), status_code=error.http_status)
    return JSONResponse({"in_place": changes.in_place, "new_version": changes.new_version})


@router.post("/campaigns/{campaign_id}/activate", name="activate_campaign")
def start(request: Request, visitor: Admin, campaign_id: PathId) -> Response:
    with db_of(request).transaction() as session:
        activate(session, str(campaign_id), now=now_of(request))
    return see_other(request, "campaign", campaign_id=campaign_id)


@router.post("/campaigns/{campaign_id}/deactivate", name="deactivate_campaign")
def pause(request: Request, visitor: Admin, campaign_id: PathId) -> Response:
    with db_of(request).transaction() as session:
        deactivate(session, str(campaign_id), now=now_of(request))
    return see_other(request, "campaign", campaign_id=campaign_id)


@router.post("/campaigns/{campaign_id}/delete", name="delete_campaign")
def delete(request: Request, visitor: Admin, campaign_id: PathId) -> Response:
    """Delete a campaign that never ran, then Campaigns; one that ran is refused (archive it)."""
    with db_of(request).transaction() as session:
        delete_campaign(session, campaign_id)
    return see_other(request, "campaigns")


@router.post("/campaigns/{campaign_id}/archive", name="archive_campaign")
def archive(request: Request, visitor: Admin, campaign_id: PathId) -> Response:
    with db_of(request).transaction() as session:
        archive_campaign(session, campaign_id, now=now_of(request))
    return see_other(request, "campaign", campaign_id=campaign_id)


@router.post("/campaigns/{campaign_id}/unarchive", name="unarchive_campaign")
def unarchive(request: Request, visitor: Admin, campaign_id: PathId) -> Response:
    with db_of(request).transaction() as session:
        unarchive_campaign(session, campaign_id, now=now_of(request))
    return see_other(request, "campaign", campaign_id=campaign_id)


def _editor(
    request: Request, campaign_id: int, definition: str, *, error: KithError | None = None
) -> Response:
    """The designer on the campaign as saved (its name, version, who reached each step),
    editing `definition`: the saved one, or the text a save was refused for."""
    with db_of(request).session() as session:
        campaign = get_campaign(session, campaign_id)
        view = campaign_json(session, campaign, now=now_of(request))
        designer = _designer(request, session, error) | {
            "active": view["status"] == "active",
            "version": view["version"],
            "reached": {
                step["id"]: {
                    "waiting": step["waiting"],
                    "passed": step["done"],
                    "waiting_url": _people_link(request, campaign_id, step["id"], passed=False),
                    "passed_url": _people_link(request, campaign_id, step["id"], passed=True),
                }
                for step in view["steps"]
            },
            "check_url": url_path(request, "check_campaign_change", campaign_id=campaign_id),
        }
    return render_form(
        request,
        "campaign_edit.html",
        error,
        campaign_id=campaign_id,
        name=campaign.name,
        definition=definition,
        designer=designer,
    )


def _people_link(request: Request, campaign_id: int, step: str, *, passed: bool) -> str:
    query = {"step": step, "passed": "true"} if passed else {"step": step}
    return url_path(request, "step_people", campaign_id=campaign_id) + "?" + urlencode(query)


def _creator(
    request: Request, values: dict[str, str], *, error: KithError | None = None
) -> Response:
    with db_of(request).session() as session:
        designer = _designer(request, session, error)
    return render_form(
        request,
        "campaign_new.html",
        error,
        values=values,
        templates=TEMPLATES,
        designer=designer,
    )


def _designer(request: Request, session: Session, error: KithError | None) -> dict[str, Any]:
    """What the designer (designer.js) offers: the groups and mailings to pick, where to make
    a new mailing, and the error that refused the last save, with the step or setting at
    fault."""
    groups = session.execute(
        select(TargetGroup.name, TargetGroup.kind).order_by(TargetGroup.name_key)
    ).tuples()
    mailings = session.scalars(select(Mailing.name).distinct().order_by(Mailing.name))
    return {
        "groups": [{"name": name, "static": kind == "static"} for name, kind in groups],
        "mailings": list(mailings),
        "weekdays": WEEKDAYS,
        "new_mailing_url": url_path(request, "new_mailing"),
        "error": _refusal(error) if error else None,
        "active": False,
        "reached": {},
    }


def _refusal(error: KithError) -> dict[str, str | None]:
    """An error as the designer shows it: its words, and the step or setting they concern."""
    return {
        "message": str(error),
        "step": getattr(error, "step_id", None),
        "field": getattr(error, "field", None),
        "setting": getattr(error, "setting", None),
    }


def _as_text(definition: dict[str, Any]) -> str:
    return orjson.dumps(definition, option=orjson.OPT_INDENT_2).decode()
