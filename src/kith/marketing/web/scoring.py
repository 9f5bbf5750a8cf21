"""Scoring: the active engagement model (rules and grades) and its editor, a subscriber's score
explained rule by rule, and a recompute of every score."""

from __future__ import annotations

import orjson
from fastapi import Request, Response

from kith.errors import KithError
from kith.marketing.scoring.compute import Recomputed, apply_model, explain, recompute_scores
from kith.marketing.scoring.grades import SCORING_FOLDER
from kith.marketing.scoring.model import EXAMPLE_MODEL, active_model
from kith.web.forms import parse_json_field
from kith.web.requests import db_of, now_of
from kith.web.site import Admin, FormData, back_to_page, page_router, render, render_form

router = page_router()
back_to_page(router, "/scoring/recompute", "scoring")


@router.get("/scoring", name="scoring")
def scoring(request: Request, visitor: Admin, who: str = "") -> Response:
    """The model, and with `who` (an email or Remote ID) that subscriber's points."""
    explanation, error = None, None
    with db_of(request).session() as session:
        model = active_model(session)
        if who.strip():
            try:
                explanation = explain(session, who, now=now_of(request))
            except KithError as refused:
                error = str(refused)
    return render(
        request,
        "scoring.html",
        model=model,
        folder=SCORING_FOLDER,
        who=who,
        explanation=explanation,
        error=error,
        recomputed=None,
    )


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
    with db_of(request).session() as session:
        model = active_model(session)
    return render(
        request,
        "scoring.html",
        model=model,
        folder=SCORING_FOLDER,
        who="",
        explanation=None,
        error=None if recomputed else "No scoring model is set yet.",
        recomputed=recomputed,
    )


def _editor(request: Request, model: str, *, error: KithError | None = None) -> Response:
    return render_form(request, "scoring_edit.html", error, model=model)
