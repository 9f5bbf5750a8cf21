"""Admin > Automation Rules: List Builder criteria with an action (send_email with a subject,
award_badge, notify_admin), active or not; the same criteria builder as List Builder."""

from __future__ import annotations

from functools import partial
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
from kith.community.models import AutomationRule
from kith.community.web.acting import acting_member
from kith.community.web.criteria_builder import render_editor, save_form
from kith.errors import KithError
from kith.web.forms import Form
from kith.web.requests import db_of, now_of
from kith.web.site import (
    Admin,
    FormData,
    Visitor,
    admin,
    back_to_page,
    page_router,
    render,
    see_other,
)

router = page_router(admin)
back_to_page(router, "/rules/{key}/delete", "rules", same_ids=False)


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
    subject = form.text("subject") or None
    return _saved(request, visitor, form, None, partial(create_rule, subject=subject))


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
    """A rule moved off send_email drops its subject (the form still sends the field)."""
    subject = form.text("subject") if form.text("action") == SEND_EMAIL else None
    save = partial(update_rule, key_or_name=key, subject=subject)
    return _saved(request, visitor, form, key, save)


@router.post("/rules/{key}/delete", name="delete_rule")
def delete(request: Request, visitor: Admin, key: str) -> Response:
    with db_of(request).transaction() as session:
        delete_rule(session, key, by=acting_member(session, visitor))
    return see_other(request, "rules")


def _saved(
    request: Request,
    visitor: Visitor,
    form: Form,
    key: str | None,
    save: partial[AutomationRule],
) -> Response:
    """The rule saved from its form by `save` (the subject bound), then the rules; else the
    form again with the error that refused it."""
    values = _values(form)
    rule = partial(save, name=values["name"], action=values["action"], active=values["active"])
    try:
        save_form(request, visitor, form, rule)
    except KithError as error:
        return _editor(request, key, values, form.get("criteria"), error=error)
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
    """The rule's form; `criteria` is a tree, or the text sent when it was not JSON."""
    return render_editor(
        request, "rule_edit.html", criteria, error=error, key=key, values=values, actions=ACTIONS
    )
