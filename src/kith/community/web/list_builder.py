"""Admin > Users > List Builder: Custom User Lists with their counts; create, edit, copy and
delete one with the criteria builder, seeing its count and a sample before saving."""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import Request, Response

from kith.community.lists import create_list, delete_list, get_list, list_summaries, update_list
from kith.community.web.acting import acting_member
from kith.community.web.criteria_builder import render_editor, save_form
from kith.errors import KithError
from kith.list_names import judge_list_name
from kith.web.requests import db_of, now_of
from kith.web.site import Admin, FormData, admin, back_to_page, page_router, render, see_other

router = page_router(admin)
back_to_page(router, "/lists/{key}/delete", "list_builder", same_ids=False)


@router.get("/lists", name="list_builder")
def lists(request: Request, visitor: Admin, saved: str = "") -> Response:
    with db_of(request).session() as session:
        summaries = list_summaries(session, now=now_of(request))
    verdicts = {item.list_key: judge_list_name(item.name) for item in summaries}
    return render(request, "lists.html", lists=summaries, verdicts=verdicts, saved=saved)


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
        created = save_form(request, visitor, form, partial(create_list, name=name))
    except KithError as error:
        return _builder(request, None, name, form.get("criteria"), error=error)
    return see_other(request, "list_builder", {"saved": created.list_key})


@router.get("/lists/{key}/edit", name="edit_list")
def edit_list(request: Request, visitor: Admin, key: str) -> Response:
    with db_of(request).session() as session:
        found = get_list(session, key)
    return _builder(request, found.list_key, found.name, found.criteria)


@router.post("/lists/{key}/edit")
def change(request: Request, visitor: Admin, key: str, form: FormData) -> Response:
    name = form.text("name")
    try:
        save_form(request, visitor, form, partial(update_list, key_or_name=key, name=name))
    except KithError as error:
        return _builder(request, key, name, form.get("criteria"), error=error)
    return see_other(request, "list_builder", {"saved": key})


@router.post("/lists/{key}/delete", name="delete_list")
def delete(request: Request, visitor: Admin, key: str) -> Response:
    with db_of(request).transaction() as session:
        delete_list(session, key, by=acting_member(session, visitor))
    return see_other(request, "list_builder")


def _builder(
    request: Request,
    key: str | None,
    name: str,
    criteria: Any,
    *,
    error: KithError | None = None,
) -> Response:
    """The List Builder form; `criteria` is a tree, or the text sent when it was not JSON."""
    return render_editor(request, "list_edit.html", criteria, error=error, key=key, name=name)
