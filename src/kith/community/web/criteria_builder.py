"""The criteria builder that List Builder's and Automation Rules' editors share: what it offers,
its preview of who matches, its form field, and saving a form through it."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Protocol, TypeVar

import orjson
from fastapi import Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from kith.community.activity_types import describe_activity_type
from kith.community.criteria import OPS, InvalidCriteria
from kith.community.models import (
    MEMBER_BOOLEAN_FIELDS,
    MEMBER_DATE_FIELDS,
    MEMBER_TEXT_FIELDS,
    ActivityType,
    Community,
    CustomField,
)
from kith.community.saved_criteria import preview
from kith.community.web.acting import acting_member
from kith.errors import InvalidInput, KithError
from kith.web.forms import Form, parse_json_field
from kith.web.requests import db_of, now_of
from kith.web.site import Admin, JsonBody, Visitor, admin, back_to_page, page_router, render_form

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

router = page_router(admin)
back_to_page(router, "/lists/preview", "new_list")

SAMPLE_SIZE = 10
TEXT_OPS = tuple(op for op in OPS if op != "within_days")
DATE_OPS = tuple(op for op in OPS if op not in ("contains", "starts_with"))


@router.post("/lists/preview", name="preview_list")
def preview_list(request: Request, visitor: Admin, body: JsonBody) -> Response:
    """The count and a sample of the members some criteria select now; nothing is saved."""
    criteria = body.get("criteria") if isinstance(body, dict) else None
    with db_of(request).session() as session:
        try:
            count, sample = preview(session, criteria, now=now_of(request), sample=SAMPLE_SIZE)
        except InvalidCriteria as error:
            raise in_words(error) from None
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


class Saving(Protocol[T_co]):
    """A service saving a list or rule with the rest of its form already bound (a partial)."""

    def __call__(self, session: Session, *, criteria: Any, by: str, now: datetime) -> T_co: ...


def save_form(request: Request, visitor: Visitor, form: Form, save: Saving[T]) -> T:
    """`save` given the form's criteria, as the member signed in, in one transaction; a
    KithError (criteria that are not JSON, too) changes nothing."""
    criteria = parse_json_field(form.get("criteria"), "criteria")
    with db_of(request).transaction() as session:
        return save(
            session, criteria=criteria, by=acting_member(session, visitor), now=now_of(request)
        )


def render_editor(
    request: Request,
    template: str,
    criteria: Any,
    *,
    error: KithError | None = None,
    **context: Any,
) -> Response:
    """A list's or rule's editor around the criteria builder, again with the error that refused
    it when there is one; `criteria` is a tree, or the text sent when it was not JSON."""
    with db_of(request).session() as session:
        vocabulary = builder_vocabulary(session)
    criteria_text = criteria if isinstance(criteria, str) else orjson.dumps(criteria).decode()
    if isinstance(error, InvalidCriteria):
        error = in_words(error)
    return render_form(
        request, template, error, criteria_text=criteria_text, vocabulary=vocabulary, **context
    )


def in_words(error: InvalidCriteria) -> InvalidInput:
    """A criteria problem as the builder shows it: in its words, naming the criterion by its
    place from the top ("Criterion 2.1" is the first one in the second's group), where the API
    names the node by its JSON path."""
    places = ".".join(str(int(index) + 1) for index in re.findall(r"\[(\d+)\]", error.path))
    plain = f"{error.plain}."
    return InvalidInput(f"Criterion {places}: {plain}" if places else plain[0].upper() + plain[1:])


def builder_vocabulary(session: Session) -> dict[str, Any]:
    """What the criteria builder offers: activity types (with what each means), communities,
    fields and their ops."""
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
        "activity_types": [
            {"name": name, "description": describe_activity_type(name)}
            for name in session.scalars(select(ActivityType.name).order_by(ActivityType.name))
        ],
        "communities": list(session.scalars(select(Community.name).order_by(Community.name))),
        "fields": fields,
        "ops": {"text": TEXT_OPS, "date": DATE_OPS, "boolean": ("eq", "ne")},
    }
