"""Admin > Users > List Builder: Custom User Lists with their counts; create, edit, copy and
delete one with the criteria builder, seeing its count and a sample before saving."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from kith.community.criteria import OPS
from kith.community.lists import (
    create_list,
    delete_list,
    get_list,
    list_summaries,
    preview,
    update_list,
)
from kith.community.models import (
    MEMBER_BOOLEAN_FIELDS,
    MEMBER_DATE_FIELDS,
    MEMBER_TEXT_FIELDS,
    ActivityType,
    Community,
    CustomField,
)
from kith.community.web.acting import acting_member
from kith.errors import KithError
from kith.web.forms import parse_json_field
from kith.web.requests import db_of, now_of
from kith.web.site import (
    Admin,
    FormData,
    JsonBody,
    admin,
    page_router,
    render,
    render_form,
    see_other,
)

router = page_router(admin)

SAMPLE_SIZE = 10
TEXT_OPS = tuple(op for op in OPS if op != "within_days")
DATE_OPS = tuple(op for op in OPS if op not in ("contains", "starts_with"))


@router.get("/lists", name="list_builder")
def lists(request: Request, visitor: Admin, saved: str = "") -> Response:
    with db_of(request).session() as session:
        summaries = list_summaries(session, now=now_of(request))
    return render(request, "lists.html", lists=summaries, saved=saved)


@router.get("/lists/new", name="new_list")
def new_list(request: Request, visitor: Admin, copy: str = "") -> Response:
    """The builder, empty, or holding a copy of the list `copy` (saved only when asked)."""
    if not copy:
        return _builder(request, None, "Informz ", {"all": []})
    with db_of(request).session() as session:
        original = get_list(session, copy)
    return _builder(request, None, f"Copy of {original.name}", original.criteria)


@router.post("/lists/new")
def create(request: Request, visitor: Admin, form: FormData) -> Response:
    name = form.text("name")
    try:
        criteria = parse_criteria_text(form.get("criteria"))
        with db_of(request).transaction() as session:
            created = create_list(
                session,
                name=name,
                criteria=criteria,
                by=acting_member(session, visitor),
                now=now_of(request),
            )
            key = created.list_key
    except KithError as error:
        return _builder(request, None, name, form.get("criteria"), error=error)
    return see_other(request, "list_builder", {"saved": key})


@router.get("/lists/{key}/edit", name="edit_list")
def edit_list(request: Request, visitor: Admin, key: str) -> Response:
    with db_of(request).session() as session:
        found = get_list(session, key)
    return _builder(request, found.list_key, found.name, found.criteria)


@router.post("/lists/{key}/edit")
def change(request: Request, visitor: Admin, key: str, form: FormData) -> Response:
    name = form.text("name")
    try:
        criteria = parse_criteria_text(form.get("criteria"))
        with db_of(request).transaction() as session:
            update_list(
                session,
                key,
                by=acting_member(session, visitor),
                now=now_of(request),
                name=name,
                criteria=criteria,
            )
    except KithError as error:
        return _builder(request, key, name, form.get("criteria"), error=error)
    return see_other(request, "list_builder", {"saved": key})


@router.post("/lists/{key}/delete", name="delete_list")
def delete(request: Request, visitor: Admin, key: str) -> Response:
    with db_of(request).transaction() as session:
        delete_list(session, key, by=acting_member(session, visitor))
    return see_other(request, "list_builder")


@router.post("/lists/preview", name="preview_list")
def preview_list(request: Request, visitor: Admin, body: JsonBody) -> Response:
    """The count and a sample of the members some criteria select now; nothing is saved."""
    criteria = body.get("criteria") if isinstance(body, dict) else None
    with db_of(request).session() as session:
        count, sample = preview(session, criteria, now=now_of(request), sample=SAMPLE_SIZE)
    return JSONResponse(
        {
            "count": count,
            "sample": [
                {
                    "contact_key": member.contact_key,
                    "name": " ".join(filter(None, (member.first_name, member.last_name))),
                    "email": member.email,
                }
                for member in sample
            ],
        }
    )


def builder_vocabulary(session: Session) -> dict[str, Any]:
    """What the criteria builder offers: activity types, communities, fields and their ops."""
    fields = [
        {"name": name, "kind": kind, "custom": False}
        for kind, names in (
            ("text", MEMBER_TEXT_FIELDS),
            ("date", MEMBER_DATE_FIELDS),
            ("boolean", MEMBER_BOOLEAN_FIELDS),
        )
        for name in names
    ]
    fields += [
        {"name": name, "kind": "text", "custom": True}
        for name in session.scalars(select(CustomField.name).order_by(CustomField.name))
    ]
    return {
        "activity_types": list(
            session.scalars(select(ActivityType.name).order_by(ActivityType.name))
        ),
        "communities": list(session.scalars(select(Community.name).order_by(Community.name))),
        "fields": fields,
        "ops": {"text": TEXT_OPS, "date": DATE_OPS, "boolean": ("eq", "ne")},
    }


def parse_criteria_text(text: str) -> Any:
    """The criteria field of a form: JSON, from the builder or typed in."""
    return parse_json_field(text, "criteria")


def criteria_text(criteria: Any) -> str:
    """Criteria for the builder's field: a tree as JSON, or the text sent when it was not JSON."""
    return criteria if isinstance(criteria, str) else orjson.dumps(criteria).decode()


def _builder(
    request: Request,
    key: str | None,
    name: str,
    criteria: Any,
    *,
    error: KithError | None = None,
) -> Response:
    """The List Builder form; `criteria` is a tree, or the text sent when it was not JSON."""
    with db_of(request).session() as session:
        vocabulary = builder_vocabulary(session)
    return render_form(
        request,
        "list_edit.html",
        error,
        key=key,
        name=name,
        criteria_text=criteria_text(criteria),
        vocabulary=vocabulary,
    )
