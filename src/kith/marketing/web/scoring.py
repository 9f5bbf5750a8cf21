"""Scoring: the active engagement model (rules and grades) and its editor with a preview of
what a draft would give, a subscriber's score explained rule by rule, and a recompute of every
score."""

from __future__ import annotations

import re
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from kith.errors import KithError
from kith.marketing.scoring.compute import (
    Explanation,
    Recomputed,
    apply_model,
    explain,
    recompute_scores,
)
from kith.marketing.scoring.grades import SCORING_FOLDER, grade_group_ids
from kith.marketing.scoring.model import (
    EXAMPLE_MODEL,
    GRADE_GROUP_PREFIX,
    InvalidModel,
    active_model,
    activity_types_pulled,
    groups_to_score,
)
from kith.marketing.scoring.preview import preview_model
from kith.web.forms import parse_json_field
from kith.web.requests import db_of, now_of
from kith.web.site import (
    Admin,
    FormData,
    JsonBody,
    back_to_page,
    page_router,
    render,
    render_form,
)

# the model's keys as the editor's fields name them, for refusals shown next to those fields
FORM_WORDS = {
    "min_score": "the score",
    "within_days": "the number of days",
    "cap": "the most points",
    "value": "what the field holds",
}
KEY_WORDS = re.compile(r"\b(" + "|".join(FORM_WORDS) + r")\b")
PLACE_PREFIX = re.compile(r"^(rule|grade) [^:]*: ")

router = page_router()
back_to_page(router, "/scoring/recompute", "scoring")
back_to_page(router, "/scoring/preview", "edit_scoring")


@router.get("/scoring", name="scoring")
def scoring(request: Request, visitor: Admin, who: str = "") -> Response:
    """The model, and with `who` (an email or Remote ID) that subscriber's points."""
    explanation, error = None, None
    if who.strip():
        with db_of(request).session() as session:
            try:
                explanation = explain(session, who, now=now_of(request))
            except KithError as refused:
                error = str(refused)
    return _scoring_page(request, who=who, explanation=explanation, error=error)


@router.post("/scoring/recompute", name="recompute_scores")
def recompute(request: Request, visitor: Admin) -> Response:
    """Score every subscriber with the active model and update the grade groups."""
    with db_of(request).transaction() as session:
        recomputed = recompute_scores(session, now=now_of(request))
    return _recomputed(request, recomputed)


@router.get("/scoring/edit", name="edit_scoring")
def edit_scoring(request: Request, visitor: Admin) -> Response:
    with db_of(request).session() as session:
        model = active_model(session)
    written = EXAMPLE_MODEL if model is None else model.as_json()
    shown = {"rules": written["rules"], "grades": written["grades"]}
    return _editor(request, orjson.dumps(shown, option=orjson.OPT_INDENT_2).decode())


@router.post("/scoring/edit")
def save_model(request: Request, visitor: Admin, form: FormData) -> Response:
    """Make the edited model the active one (a new version) and score everyone with it."""
    text = form.get("model")
    try:
        written = parse_json_field(text, "model")
        with db_of(request).transaction() as session:
            recomputed = apply_model(session, written, now=now_of(request))
    except KithError as error:
        return _editor(request, text, error=error)
    return _recomputed(request, recomputed)


def _recomputed(request: Request, recomputed: Recomputed | None) -> Response:
    """The scoring page after scores were computed (None: there was no model to do it)."""
    error = None if recomputed else "No scoring model is set yet."
    return _scoring_page(request, error=error, recomputed=recomputed)


def _scoring_page(
    request: Request,
    *,
    who: str = "",
    explanation: Explanation | None = None,
    error: str | None = None,
    recomputed: Recomputed | None = None,
) -> Response:
    """The active model in words, each grade leading to its group's members."""
    with db_of(request).session() as session:
        model = active_model(session)
        grade_groups = grade_group_ids(session)
    return render(
        request,
        "scoring.html",
        model=model,
        grade_groups={
            grade.name: grade_groups[grade.group_name]
            for grade in (model.grades if model else ())
            if grade.group_name in grade_groups
        },
        folder=SCORING_FOLDER,
        who=who,
        explanation=explanation,
        error=error,
        recomputed=recomputed,
    )


@router.post("/scoring/preview", name="preview_scoring")
def preview(request: Request, visitor: Admin, body: JsonBody) -> Response:
    """What a draft model would give everyone now (grades and scores), nothing saved; a model
    saving would refuse is answered 422 with the reason and the rule or grade at fault."""
    draft = body.get("model") if isinstance(body, dict) else None
    try:
        with db_of(request).session() as session:
            previewed = preview_model(session, draft, now=now_of(request))
    except KithError as error:
        return JSONResponse(_refusal(error), error.http_status)
    return JSONResponse(previewed.as_json())


def _editor(request: Request, model: str, *, error: KithError | None = None) -> Response:
    """The editor: the form (scoring.js) built from `model`, the text it keeps in step."""
    with db_of(request).session() as session:
        choices = _choices(session)
    refusal = _refusal(error) if error else None
    return render_form(
        request,
        "scoring_edit.html",
        error,
        model=model,
        choices=choices,
        refusal=refusal,
        folder=SCORING_FOLDER,
    )


def _refusal(error: KithError) -> dict[str, Any]:
    """Why a model was refused in the form's words: the whole message (naming the rule or
    grade), the reason to show next to the field at fault, and where that field is (None:
    above the form)."""
    at = error.at if isinstance(error, InvalidModel) else None
    message = str(error)
    if at and at.key in FORM_WORDS:  # one field, named as the form names it
        message = KEY_WORDS.sub(lambda key: FORM_WORDS[key.group(0)], message)
    if at is None:
        reason = message
    elif at.part == "model":
        message = reason = f"Add at least one {'grade' if at.key == 'grades' else 'rule'}."
    else:
        reason = PLACE_PREFIX.sub("", message)
    return {
        "message": message,
        "reason": reason[:1].upper() + reason[1:],
        "at": at.__dict__ if at else None,
    }


def _choices(session: Session) -> dict[str, Any]:
    """What the editor offers: the activity types pulled from the community, the groups a rule
    may give points for (not the grades' own) and how a grade's group is named."""
    return {
        "activity_types": activity_types_pulled(session),
        "groups": groups_to_score(session),
        "grade_group_prefix": GRADE_GROUP_PREFIX,
    }
