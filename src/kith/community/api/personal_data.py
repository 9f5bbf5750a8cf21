"""A member's personal data over the API: exported, or deleted by the credential's creator (a
Super Admin), as `kith community members export-data|delete` do."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from kith.community.api.auth import Credential
from kith.community.api.context import refusals
from kith.community.personal_data import delete_member, export_member
from kith.erasures import ErasureOut, erasure_json, forget_deleted_rows
from kith.web.requests import db_of, json_response, now_of

router = APIRouter(tags=["API"])


class MemberDataOut(BaseModel):
    """Every record of one member, a section per kind."""

    side: str
    member: dict[str, Any]
    account: dict[str, Any] | None
    memberships: list[dict[str, Any]]
    activity: list[dict[str, Any]]
    lists: list[dict[str, Any]]
    list_changes: list[dict[str, Any]]
    authored: list[dict[str, Any]]


@router.get(
    "/members/{contact_key}/data",
    response_model=MemberDataOut,
    responses=refusals("member", 404),
)
def get_member_data(request: Request, contact_key: str) -> Response:
    """Everything the community keeps about the member with this contact key."""
    with db_of(request).session() as session:
        document = export_member(session, contact_key)
    return json_response(document)


@router.delete(
    "/members/{contact_key}",
    response_model=ErasureOut,
    responses=refusals("member", 403, 404, 422),
)
def remove_member(request: Request, credential: Credential, contact_key: str) -> Response:
    """Delete the member for good, as the credential's creator (a Super Admin); the answer is
    the record of the deletion, which names nobody but the one who deleted."""
    db = db_of(request)
    with db.transaction() as session:
        erasure = delete_member(session, contact_key, by=credential.created_by, now=now_of(request))
    forget_deleted_rows(db)
    return json_response(erasure_json(erasure))
