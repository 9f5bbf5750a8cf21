"""Scoring routes: read and replace the scoring model, recompute, explain a subscriber's score."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response

from kith.errors import NotFound
from kith.marketing.api.context import errors
from kith.marketing.scoring.compute import apply_model, explain, recompute_scores
from kith.marketing.scoring.model import EXAMPLE_MODEL, active_model
from kith.web.requests import db_of, json_response, now_of

router = APIRouter(tags=["Scoring"])
NO_MODEL = "no scoring model is set; PUT one to /api/scoring"


@router.get("/scoring", responses=errors(404))
def get_model(request: Request) -> Response:
    """The active scoring model: its version, rules and grades."""
    with db_of(request).session() as session:
        definition = active_model(session)
    if definition is None:
        raise NotFound(NO_MODEL)
    return json_response(definition.as_json())


@router.put("/scoring", responses=errors(404, 422))
def put_model(
    request: Request,
    body: Annotated[
        dict[str, Any],
        Body(examples=[EXAMPLE_MODEL]),
    ],
) -> Response:
    """Make this the active model (validated; errors name the rule) and score everyone."""
    with db_of(request).transaction() as session:
        recomputed = apply_model(session, body, now=now_of(request))
    return json_response(recomputed.as_json())


@router.post("/scoring/recompute", responses=errors(404, 422))
def post_recompute(request: Request) -> Response:
    """Score every subscriber with the active model and update the grade groups now."""
    with db_of(request).transaction() as session:
        recomputed = recompute_scores(session, now=now_of(request))
    if recomputed is None:
        raise NotFound(NO_MODEL)
    return json_response(recomputed.as_json())


@router.get("/scoring/explain/{reference}", responses=errors(404, 422))
def get_explanation(request: Request, reference: str) -> Response:
    """A subscriber's points rule by rule (by email or Remote ID), adding up to their score."""
    with db_of(request).session() as session:
        explanation = explain(session, reference, now=now_of(request))
    return json_response(explanation.as_json())
