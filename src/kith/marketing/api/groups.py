"""Folder and target group routes: static and compound groups, their members, deletion; a
community group's live/manual switch and its sync history."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from kith.csvimport.report import ImportRejected
from kith.csvimport.rows import FIRST_DATA_LINE
from kith.db import Database
from kith.errors import InvalidInput
from kith.marketing.api.context import (
    RejectedOut,
    errors,
    json_array,
    rejected_response,
    renumbered,
)
from kith.marketing.groups import deletion
from kith.marketing.groups import target_groups as groups
from kith.marketing.groups.folders import FolderSummary, create_folder, list_folders
from kith.marketing.groups.live import live_state, switch_live
from kith.marketing.groups.members import REFERENCE_COLUMNS, change_members
from kith.marketing.groups.sync_history import run_json, sync_runs
from kith.web.requests import db_of, json_response, now_of

MAX_MEMBERS = 10_000
MAX_RUNS = 1_000  # sync runs in one answer
# Rejections name a member by its 1-based position in `members`, not by a CSV line.
POSITION_OFFSET = 1 - FIRST_DATA_LINE

router = APIRouter(tags=["Folders and target groups"])


class FolderOut(BaseModel):
    name: str
    group_count: int
    created_at: datetime


class FolderIn(BaseModel):
    name: str


class SectionOut(BaseModel):
    groups: list[str]
    mode: str


class GroupOut(BaseModel):
    name: str
    folder: str
    kind: str
    member_count: int
    last_synced_at: datetime | None
    sync_status: str | None
    source_removed_at: datetime | None = None
    live: bool | None = None
    include: SectionOut | None = None
    exclude: SectionOut | None = None


class GroupIn(BaseModel):
    name: str
    folder: str | None = None


class SectionIn(BaseModel):
    """Groups by name, and how they combine: `all` (In all) or `any` (In one or more)."""

    groups: list[str]
    mode: str


class CompoundSectionsIn(BaseModel):
    include: SectionIn
    exclude: SectionIn | None = None


class CompoundIn(CompoundSectionsIn):
    """Members = the Include groups combined by their mode, minus the Exclude groups."""

    name: str
    folder: str | None = None


class MemberOut(BaseModel):
    email: str
    remote_id: str | None
    status: str


class MemberReference(BaseModel):
    """A subscriber by remote_id or, when that is absent, by email."""

    email: str | None = None
    remote_id: str | None = None


class MembersIn(BaseModel):
    members: list[MemberReference]


class MembersAddedOut(BaseModel):
    added: int
    already_members: int
    rejected: list[dict[str, Any]]


class MembersRemovedOut(BaseModel):
    removed: int
    not_members: int
    rejected: list[dict[str, Any]]


class LiveIn(BaseModel):
    """`true`: the group follows its list's changes; `false`: it changes only when synced."""

    live: bool


class LastChangeOut(BaseModel):
    applied_at: datetime
    added: int | None
    removed: int | None


class LiveOut(BaseModel):
    group: str
    live: bool
    paused: str | None
    last_change: LastChangeOut | None


class SyncRunOut(BaseModel):
    group: str
    run: int
    status: str
    trigger: str
    mode: str
    in_list: int | None
    members: int | None
    added: int | None
    removed: int | None
    unchanged: int | None
    created: int | None
    linked: int | None
    skipped: dict[str, int]
    error: str | None
    drift: int | None
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


STRICT_REJECTED: dict[int | str, dict[str, Any]] = {
    422: {
        "model": RejectedOut,
        "description": "Invalid input, or under strict the rejected members (nothing changed)",
    }
}


@router.get("/folders", response_model=list[FolderOut])
def get_folders(request: Request) -> Response:
    """Every folder with the number of groups in it, Main first."""
    with db_of(request).session() as session:
        views = [folder.as_json() for folder in list_folders(session)]
    return json_response(views)


@router.post("/folders", status_code=201, response_model=FolderOut, responses=errors(409, 422))
def post_folder(request: Request, body: FolderIn) -> Response:
    """A new folder for target groups."""
    with db_of(request).transaction() as session:
        folder = create_folder(session, body.name, now=now_of(request))
    return json_response(FolderSummary(folder.name, 0, folder.created_at).as_json(), 201)


@router.get("/groups", response_model=list[GroupOut], responses=errors(404))
def get_groups(request: Request, folder: str | None = None) -> Response:
    """Every group (or one folder's) with its kind, member count and sync state."""
    with db_of(request).session() as session:
        views = [summary.as_json() for summary in groups.list_groups(session, folder=folder)]
    return json_response(views)


@router.post("/groups", status_code=201, response_model=GroupOut, responses=errors(404, 409, 422))
def post_group(request: Request, body: GroupIn) -> Response:
    """A new, empty static group in a folder (Main by default)."""
    with db_of(request).transaction() as session:
        group = groups.create_group(session, body.name, folder=body.folder, now=now_of(request))
        view = groups.summarize(session, group).as_json()
    return json_response(view, 201)


@router.post(
    "/groups/compound",
    status_code=201,
    response_model=GroupOut,
    responses=errors(404, 409, 422),
)
def post_compound_group(request: Request, body: CompoundIn) -> Response:
    """A compound group; a definition that would contain itself is refused, naming the cycle."""
    with db_of(request).transaction() as session:
        group = groups.create_compound_group(
            session,
            body.name,
            include=body.include.groups,
            include_mode=body.include.mode,
            exclude=body.exclude.groups if body.exclude else (),
            exclude_mode=body.exclude.mode if body.exclude else "any",
            folder=body.folder,
            now=now_of(request),
        )
        view = groups.summarize(session, group).as_json()
    return json_response(view, 201)


@router.put("/groups/{name}/compound", response_model=GroupOut, responses=errors(404, 422))
def put_compound_sections(request: Request, name: str, body: CompoundSectionsIn) -> Response:
    """Replace a compound group's Include and Exclude sections (no exclude: none)."""
    with db_of(request).transaction() as session:
        group = groups.change_compound_group(
            session,
            name,
            include=body.include.groups,
            include_mode=body.include.mode,
            exclude=body.exclude.groups if body.exclude else (),
            exclude_mode=body.exclude.mode if body.exclude else "any",
        )
        view = groups.summarize(session, group).as_json()
    return json_response(view)


@router.get("/groups/{name}", response_model=GroupOut, responses=errors(404))
def get_group(request: Request, name: str) -> Response:
    """One group: folder, kind, member count, a compound's sections, sync state."""
    with db_of(request).session() as session:
        view = groups.summarize(session, groups.get_group(session, name)).as_json()
    return json_response(view)


@router.get("/groups/{name}/live", response_model=LiveOut, responses=errors(404, 422))
def get_group_live(request: Request, name: str) -> Response:
    """Whether a community group is live or manual, why a live one is paused (else null), and
    the last change the live pass applied to it."""
    return _live(request, name, None)


@router.put("/groups/{name}/live", response_model=LiveOut, responses=errors(404, 422))
def put_group_live(request: Request, name: str, body: LiveIn) -> Response:
    """Switch a community group to live or to manual."""
    return _live(request, name, body.live)


@router.get("/groups/{name}/sync-runs", response_model=list[SyncRunOut], responses=errors(404, 422))
def get_group_sync_runs(
    request: Request, name: str, limit: Annotated[int, Query(ge=1, le=MAX_RUNS)] = 20
) -> Response:
    """A community group's sync history, newest first; `drift` is what a drift check's full
    read added and removed against the live membership (it should be 0)."""
    with db_of(request).session() as session:
        group = groups.get_group(session, name)
        views = [run_json(run, group.name) for run in sync_runs(session, group, limit=limit)]
    return json_response(views)


@router.get("/groups/{name}/members", response_model=list[MemberOut], responses=errors(404))
def get_group_members(request: Request, name: str) -> StreamingResponse:
    """The group's subscribers in a stable order (a compound evaluated now), as one JSON array."""
    db = db_of(request)
    with db.session() as session:
        groups.get_group(session, name)  # fail now, not mid-stream
    return StreamingResponse(_member_stream(db, name), media_type="application/json")


@router.post(
    "/groups/{name}/members",
    response_model=MembersAddedOut,
    responses={**errors(404), **STRICT_REJECTED},
)
def post_group_members(
    request: Request, name: str, body: MembersIn, strict: bool = False
) -> Response:
    """Add subscribers to a static group; each rejection names its position in `members`."""
    return _change_members(request, name, body, remove=False, strict=strict)


@router.post(
    "/groups/{name}/members/remove",
    response_model=MembersRemovedOut,
    responses={**errors(404), **STRICT_REJECTED},
)
def remove_group_members(
    request: Request, name: str, body: MembersIn, strict: bool = False
) -> Response:
    """Remove subscribers from a static group; each rejection names its position in `members`."""
    return _change_members(request, name, body, remove=True, strict=strict)


@router.delete("/groups/{name}", status_code=204, responses=errors(404, 409))
def delete_group(request: Request, name: str) -> Response:
    """Delete a group and its memberships; 409 naming the compound groups, mailings and
    campaigns (with their steps) that use it."""
    with db_of(request).transaction() as session:
        deletion.delete_group(session, name)
    return Response(status_code=204)


def _change_members(
    request: Request, name: str, body: MembersIn, *, remove: bool, strict: bool
) -> Response:
    if len(body.members) > MAX_MEMBERS:
        raise InvalidInput(
            f"{len(body.members):,} members in one request; send at most {MAX_MEMBERS:,}"
        )
    rows = [
        list(REFERENCE_COLUMNS),
        *([member.email or "", member.remote_id or ""] for member in body.members),
    ]
    try:
        with db_of(request).transaction() as session:
            group = groups.get_group(session, name)
            report = change_members(
                session, group, rows, now=now_of(request), remove=remove, strict=strict
            )
    except ImportRejected as rejected:
        return rejected_response(rejected, line_offset=POSITION_OFFSET)
    view = report.as_json()
    view["rejected"] = renumbered(report.rejected, POSITION_OFFSET)
    return json_response(view)


def _live(request: Request, name: str, switch: bool | None) -> Response:
    db = db_of(request)
    with db.transaction() as session:
        group = groups.get_group(session, name)
        if switch is not None:
            switch_live(session, group, switch)
    state = live_state(db, group, now=now_of(request))
    return json_response({"group": group.name, **state.as_json()})


def _member_stream(db: Database, name: str) -> Iterator[bytes]:
    with db.session() as session:
        members = groups.iter_members(session, groups.get_group(session, name))
        yield from json_array(
            {"email": s.email, "remote_id": s.remote_id, "status": s.status} for s in members
        )
