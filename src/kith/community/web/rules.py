"""Admin > Automation Rules: List Builder criteria with an action (send_email with a subject,
award_badge, notify_admin), active or not; the same criteria builder as List Builder."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from kith.community.automation import (
    ACTIONS,
    SEND_EMAIL,
    create_rule,
    delete_rule,
    get_rule,
    rule_summaries,
    update_rule,
)
from kith.community.web.acting import acting_member
from kith.community.web.list_builder import (
    builder_vocabulary,
    criteria_text,
    parse_criteria_text,
)
from kith.errors import KithError
from kith.web.forms import Form
from kith.web.requests import db_of, now_of
from kith.web.site import Admin, FormData, admin, page_router, render, render_form, see_other

router = page_router(admin)


@router.get("/rules", name="rules")
def rules(request: Request, visitor: Admin) -> Response:
    with db_of(request).session() as session:
        summaries = rule_summaries(session, now=now_of(request))
    return render(request, "rules.html", rules=summaries)


@router.get("/rules/new", name="new_rule")
def new_rule(request: Request, visitor: Admin) -> Response:
    values = {"name": "", "action": SEND_EMAIL, "subject": "", "active": True}
    return _editor(request, None, values, {"all": []})


@router.post("/rules/new")
def create(request: Request, visitor: Admin, form: FormData) -> Response:
    values = _values(form)
    try:
        criteria = parse_criteria_text(form.get("criteria"))
        with db_of(request).transaction() as session:
            create_rule(
                session,
                name=values["name"],
                criteria=criteria,
                action=values["action"],
                subject=values["subject"] or None,
                active=values["active"],
                by=acting_member(session, visitor),
                now=now_of(request),
            )
    except KithError as error:
        return _editor(request, None, values, form.get("criteria"), error=error)
    return see_other(request, "rules")


@router.get("/rules/{key}/edit", name="edit_rule")
def edit_rule(request: Request, visitor: Admin, key: str) -> Response:
    with db_of(request).session() as session:
        rule = get_rule(session, key)
        values = {
            "name": rule.name,
            "action": rule.action,
            "subject": rule.subject or "",
            "active": rule.active,
        }
        criteria = rule.criteria
    return _editor(request, key, values, criteria)


@router.post("/rules/{key}/edit")
def change(request: Request, visitor: Admin, key: str, form: FormData) -> Response:
    values = _values(form)
    try:
        criteria = parse_criteria_text(form.get("criteria"))
        with db_of(request).transaction() as session:
            update_rule(
                session,
                key,
                by=acting_member(session, visitor),
                now=now_of(request),
                name=values["name"],
                criteria=criteria,
                action=values["action"],
                subject=values["subject"] if values["action"] == SEND_EMAIL else None,
                active=values["active"],
            )
    except KithError as error:
        return _editor(request, key, values, form.get("criteria"), error=error)
    return see_other(request, "rules")


@router.post("/rules/{key}/delete", name="delete_rule")
def delete(request: Request, visitor: Admin, key: str) -> Response:
    with db_of(request).transaction() as session:
        delete_rule(session, key, by=acting_member(session, visitor))
    return see_other(request, "rules")


def _values(form: Form) -> dict[str, Any]:
    return {
        "name": form.text("name"),
        "action": form.text("action"),
        "subject": form.text("subject"),
        "active": form.checked("active"),
    }


def _editor(
    request: Request,
    key: str | None,
    values: dict[str, Any],
    criteria: Any,
    *,
    error: KithError | None = None,
) -> Response:
    with db_of(request).session() as session:
        vocabulary = builder_vocabulary(session)
    return render_form(
        request,
        "rule_edit.html",
        error,
        key=key,
        values=values,
        actions=ACTIONS,
        criteria_text=criteria_text(criteria),
        vocabulary=vocabulary,
    )
