"""Settings > System Settings > Integration Settings: view, "Edit Integration Settings", "Update",
and "Test connection" (the connection's check, which the app was given at start-up)."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from kith.encryption import SecretBox
from kith.errors import KithError
from kith.marketing.api.integration import CheckReport, ConnectionCheck
from kith.marketing.integration import IntegrationView, configure_integration, get_integration
from kith.marketing.models import EDITIONS
from kith.web.requests import db_of, now_of, settings_of
from kith.web.site import Admin, FormData, back_to_page, page_router, render, see_other

router = page_router()
back_to_page(router, "/settings/integration/test", "integration_settings")


@router.get("/settings/integration", name="integration_settings")
def integration_settings(request: Request, visitor: Admin, updated: bool = False) -> Response:
    """The settings; just after an Update of an Active connection, with the connection tested
    on them (a refused IAMKey or Password is said then, not at the first sync)."""
    with db_of(request).session() as session:
        active = IntegrationView.of(get_integration(session)).active
    if not (updated and active) or request.app.state.connection_check is None:
        return _settings_page(request, updated=updated)
    result, _ = _tested(request)
    return _settings_page(request, updated=True, check=result)


@router.post("/settings/integration/test", name="test_connection")
def test_connection(request: Request, visitor: Admin) -> Response:
    """Call the community API with the stored settings and show what came back."""
    result, status = _tested(request)
    return _settings_page(request, check=result, status_code=status)


def _tested(request: Request) -> tuple[dict[str, Any], int]:
    """The connection check on the stored settings, and the HTTP status it calls for."""
    check: ConnectionCheck | None = request.app.state.connection_check
    if check is None:
        result: dict[str, Any] = {
            "ok": False,
            "reason": "not_installed",
            "message": "this server runs without the connection; it cannot test it",
            "detail": "",
        }
        return result, 503
    with db_of(request).session() as session:
        try:
            return check(session, SecretBox.from_settings(settings_of(request))).as_json(), 200
        except KithError as failure:
            return _failure(failure), failure.http_status


@router.get("/settings/integration/edit", name="edit_integration_settings")
def edit_integration_settings(request: Request, visitor: Admin) -> Response:
    with db_of(request).session() as session:
        view = IntegrationView.of(get_integration(session))
    values = {
        "url": view.base_url or "",
        "iam_key": view.iam_key or "",
        "active": view.active,
        "edition": view.edition or EDITIONS[0],
    }
    return _edit_page(request, view, values)


@router.post("/settings/integration/edit")
def update_integration_settings(request: Request, visitor: Admin, form: FormData) -> Response:
    """ "Update": a blank password keeps the stored one."""
    values: dict[str, Any] = {
        "url": form.text("url"),
        "iam_key": form.text("iam_key"),
        "active": form.checked("active"),
        "edition": form.text("edition") or EDITIONS[0],
    }
    try:
        with db_of(request).transaction() as session:
            configure_integration(
                session,
                box=SecretBox.from_settings(settings_of(request)),
                now=now_of(request),
                url=values["url"] or None,
                iam_key=values["iam_key"] or None,
                password=form.get("password") or None,
                active=values["active"],
                edition=values["edition"],
            )
    except KithError as error:
        with db_of(request).session() as session:
            view = IntegrationView.of(get_integration(session))
        return _edit_page(request, view, values, error=str(error), status_code=error.http_status)
    return see_other(request, "integration_settings", {"updated": "true"})


def _settings_page(
    request: Request,
    *,
    updated: bool = False,
    check: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    with db_of(request).session() as session:
        view = IntegrationView.of(get_integration(session))
    return render(
        request,
        "integration.html",
        status_code=status_code,
        view=view,
        updated=updated,
        check=check,
    )


def _edit_page(
    request: Request,
    view: IntegrationView,
    values: dict[str, Any],
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "integration_edit.html",
        status_code=status_code,
        view=view,
        values=values,
        editions=EDITIONS,
        error=error,
    )


def _failure(failure: KithError) -> dict[str, Any]:
    if isinstance(failure, CheckReport):
        return failure.as_json()
    return {"ok": False, "reason": type(failure).__name__, "message": str(failure), "detail": ""}
