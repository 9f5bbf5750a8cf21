"""The compound target group editor: Include and Exclude sections, "In all" or "In one or more"."""

from __future__ import annotations

from typing import Any

from fastapi import Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from kith.errors import KithError
from kith.marketing.groups.compound import MODE_WORDS, sections_of
from kith.marketing.groups.folders import list_folders
from kith.marketing.groups.target_groups import (
    change_compound_group,
    count_compound_draft,
    create_compound_group,
    list_groups,
)
from kith.marketing.models import MAIN_FOLDER
from kith.marketing.web.groups import group_by_id
from kith.web.forms import Form
from kith.web.requests import PathId, db_of, now_of
from kith.web.site import Admin, FormData, page_router, render_form, see_other

router = page_router()


@router.get("/compound-groups/new", name="new_compound")
def new_compound(request: Request, visitor: Admin) -> Response:
    empty = {"name": "", "folder": MAIN_FOLDER, "include": [], "include_mode": "any"}
    return _editor(request, None, empty | {"exclude": [], "exclude_mode": "any"})


@router.post("/compound-groups/new")
def create_compound(request: Request, visitor: Admin, form: FormData) -> Response:
    values = _values(form)
    try:
        with db_of(request).transaction() as session:
            group = create_compound_group(
                session,
                values["name"],
                include=values["include"],
                include_mode=values["include_mode"],
                exclude=values["exclude"],
                exclude_mode=values["exclude_mode"],
                folder=values["folder"],
                now=now_of(request),
            )
            group_id = group.id
    except KithError as error:
        return _editor(request, None, values, error=error)
    return see_other(request, "group_info", group_id=group_id)


@router.get("/compound-groups/count", name="compound_count")
def compound_count(
    request: Request,
    visitor: Admin,
    include: list[str] = Query(default=[]),
    include_mode: str = "any",
    exclude: list[str] = Query(default=[]),
    exclude_mode: str = "any",
) -> Response:
    """The members the compound being built would have now, for the editor to show as the
    marketer picks groups (JSON: `count`, and `text` to show)."""
    values = {"include": include, "include_mode": include_mode}
    with db_of(request).session() as session:
        text = _members_now(session, values | {"exclude": exclude, "exclude_mode": exclude_mode})
    return JSONResponse({"text": text})


@router.get("/groups/{group_id}/compound", name="edit_compound")
def edit_compound(request: Request, visitor: Admin, group_id: PathId) -> Response:
    with db_of(request).session() as session:
        group = group_by_id(session, group_id)
        sections = sections_of(session, group)
        values: dict[str, Any] = {"name": group.name, "folder": ""}
        for name in ("include", "exclude"):
            section = sections.get(name)
            values[name] = section.names() if section else []
            values[f"{name}_mode"] = section.mode if section else "any"
    return _editor(request, group_id, values)


@router.post("/groups/{group_id}/compound")
def change_compound(request: Request, visitor: Admin, group_id: PathId, form: FormData) -> Response:
    values = _values(form)
    try:
        with db_of(request).transaction() as session:
            group = group_by_id(session, group_id)
            values["name"] = group.name
            change_compound_group(
                session,
                group.name,
                include=values["include"],
                include_mode=values["include_mode"],
                exclude=values["exclude"],
                exclude_mode=values["exclude_mode"],
            )
    except KithError as error:
        return _editor(request, group_id, values, error=error)
    return see_other(request, "group_info", group_id=group_id)


def _values(form: Form) -> dict[str, Any]:
    return {
        "name": form.text("name"),
        "folder": form.text("folder") or MAIN_FOLDER,
        "include": form.getlist("include"),
        "include_mode": form.text("include_mode") or "any",
        "exclude": form.getlist("exclude"),
        "exclude_mode": form.text("exclude_mode") or "any",
    }


def _members_now(session: Session, values: dict[str, Any]) -> str:
    """What the editor says of the members the compound would have with these values."""
    if not values["include"]:
        return "Members now: none yet (choose at least one group to include)"
    try:
        count = count_compound_draft(
            session,
            include=values["include"],
            include_mode=values["include_mode"],
            exclude=values["exclude"],
            exclude_mode=values["exclude_mode"],
        )
    except KithError as error:
        return f"Members now: cannot count ({error})"
    return f"Members now: {count:,} {'subscriber' if count == 1 else 'subscribers'}"


def _editor(
    request: Request,
    group_id: int | None,
    values: dict[str, Any],
    *,
    error: KithError | None = None,
) -> Response:
    with db_of(request).session() as session:
        folders = [folder.name for folder in list_folders(session)]
        choices = [summary for summary in list_groups(session) if summary.group.id != group_id]
        members_now = _members_now(session, values)
    return render_form(
        request,
        "compound.html",
        error,
        group_id=group_id,
        values=values,
        folders=folders,
        choices=choices,
        modes=MODE_WORDS,
        members_now=members_now,
    )
