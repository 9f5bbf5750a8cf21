"""Scoring: the active engagement model (rules and grades), a subscriber's score explained rule
by rule, and a recompute of every score."""

from __future__ import annotations

from fastapi import Request, Response

from kith.errors import KithError
from kith.marketing.scoring.compute import explain, recompute_scores
from kith.marketing.scoring.grades import SCORING_FOLDER
from kith.marketing.scoring.model import active_model
from kith.web.requests import db_of, now_of
from kith.web.site import Admin, page_router, render

router = page_router()


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
