"""Mailings: the editor, a per-subscriber preview, the recipient count, a test send, and
sending now or at a time (with the duplicate-mailing warning: send anyway, or leave the overlap
out); the report is with the others (reports.py)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from fastapi import Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.background import BackgroundTask

from kith.encryption import SecretBox
from kith.errors import KithError
from kith.marketing.groups.target_groups import list_groups
from kith.marketing.mailings.archive import (
    archive_mailing,
    delete_mailing,
    has_deliveries,
    unarchive_mailing,
)
from kith.marketing.mailings.definition import (
    DEFAULT_FROM,
    MailingDraft,
    change_mailing,
    create_mailing,
    get_mailing,
    mailing_groups,
)
from kith.marketing.mailings.jobs import run_send, start_send
from kith.marketing.mailings.links import LinkMaker
from kith.marketing.mailings.messages import preview
from kith.marketing.mailings.personalization import personalization_fields
from kith.marketing.mailings.recipients import count_recipients
from kith.marketing.mailings.schedule import schedule_send, send_time, unschedule_send
from kith.marketing.mailings.sending import DUPLICATE_ADVICE, DUPLICATE_RISK, SendOptions
from kith.marketing.mailings.smtp import mail_transport
from kith.marketing.mailings.templates import InvalidTemplate
from kith.marketing.mailings.testing import TEST_ADDRESSES, addresses_to_test, send_test
from kith.marketing.models import MAILING_STATUSES, Mailing
from kith.marketing.web.search import search_mailings
from kith.marketing.workers import workers_alive
from kith.signing import BadSignature, sign, verify
from kith.web.forms import Form
from kith.web.requests import PathId, db_of, now_of, settings_of
from kith.web.site import (
    Admin,
    FormData,
    back_to_page,
    page_router,
    render,
    render_form,
    see_other,
    site_of,
    url_path,
)

router = page_router()
for action in ("send", "test", "schedule", "unschedule", "delete", "archive", "unarchive"):
    back_to_page(router, f"/mailings/{{mailing_id}}/{action}", "mailing")

EDITABLE = ("draft", "held")
TEST_OUTCOME = b"kith.marketing.test-outcome.v1"  # the purpose a test's outcome is signed for


@router.get("/mailings", name="mailings")
def mailings(
    request: Request,
    visitor: Admin,
    q: str = "",
    status: str = "",
    archived: str = "",
    page: int = 1,
) -> Response:
    """The mailings, newest first, searched by name or subject, a page at a time; archived ones
    when asked for."""
    with db_of(request).session() as session:
        found = search_mailings(
            session, q, status=status or None, archived=bool(archived), page=page
        )
    return render(
        request,
        "mailings.html",
        found=found,
        q=q,
        status=status,
        archived=bool(archived),
        statuses=MAILING_STATUSES,
        page_link=lambda number: (
            "?" + urlencode({"q": q, "status": status, "archived": archived, "page": number})
        ),
    )


@router.get("/mailings/new", name="new_mailing")
def new_mailing(request: Request, visitor: Admin, back: str = "") -> Response:
    """An empty mailing; `back`, the campaign designer that asked for it, gets it once made."""
    values = {
        "back": _designer_page(request, back),
        "name": "",
        "subject": "",
        "html": "",
        "text": "",
        "include": [],
        "exclude": [],
        "from_address": DEFAULT_FROM,
        "from_name": "",
    }
    return _editor(request, None, values)


@router.post("/mailings/new")
def create(request: Request, visitor: Admin, form: FormData) -> Response:
    values = _values(form)
    back = _designer_page(request, form.text("back"))
    try:
        with db_of(request).transaction() as session:
            mailing_id = create_mailing(session, _draft(values), now=now_of(request)).id
    except KithError as error:
        return _editor(request, None, values | {"back": back}, error=error)
    if back:
        return RedirectResponse(back, status_code=303)
    return see_other(request, "mailing", mailing_id=mailing_id)


def _designer_page(request: Request, back: str) -> str:
    """`back` when it is the campaign designer's page (a new campaign, or a campaign's edit),
    else "": a mailing made on the way goes back there, and nowhere a link could name instead
    (another site, `javascript:`, any other page)."""
    designer = re.escape(url_path(request, "campaigns")) + "/(new|[0-9]+/edit)"
    return back if re.fullmatch(designer, back) else ""


@router.get("/mailings/{mailing_id}/edit", name="edit_mailing")
def edit_mailing(request: Request, visitor: Admin, mailing_id: PathId) -> Response:
    with db_of(request).session() as session:
        mailing = get_mailing(session, mailing_id)
        groups = mailing_groups(session, mailing)
        values = {
            "name": mailing.name,
            "subject": mailing.subject,
            "html": mailing.html,
            "text": mailing.text or "",
            "include": [group.name for group in groups["include"]],
            "exclude": [group.name for group in groups["exclude"]],
            "from_address": mailing.from_address,
            "from_name": mailing.from_name or "",
        }
    return _editor(request, mailing_id, values)


@router.post("/mailings/{mailing_id}/edit")
def change(request: Request, visitor: Admin, mailing_id: PathId, form: FormData) -> Response:
    values = _values(form)
    try:
        with db_of(request).transaction() as session:
            change_mailing(session, mailing_id, _draft(values), now=now_of(request))
    except KithError as error:
        return _editor(request, mailing_id, values, error=error)
    return see_other(request, "mailing", mailing_id=mailing_id)


@router.get("/mailings/{mailing_id}", name="mailing")
def mailing_page(
    request: Request,
    visitor: Admin,
    mailing_id: PathId,
    preview_to: str = "",
    test: str = "",
) -> Response:
    """The mailing: its groups, recipient count now, a preview for one subscriber, a test send's
    outcome, sending."""
    tests = _test_outcome(request, mailing_id, test)
    return _page(request, mailing_id, preview_to=preview_to, tests=tests)


@router.post("/mailings/{mailing_id}/send", name="send_mailing")
def send(request: Request, visitor: Admin, mailing_id: PathId, form: FormData) -> Response:
    """Ask for the send; when no worker runs, it runs here once the answer is sent."""
    db, settings = db_of(request), settings_of(request)
    options = SendOptions(
        allow_stale=form.checked("allow_stale"),
        ack_duplicates=form.checked("ack_duplicates"),
        leave_out_duplicates=form.checked("leave_out_duplicates"),
    )
    start_send(db, settings, mailing_id, options, wait=False)
    response = see_other(request, "mailing", mailing_id=mailing_id)
    if not workers_alive(db, now=now_of(request)):
        response.background = BackgroundTask(run_send, db, settings, mailing_id)
    return response


@router.post("/mailings/{mailing_id}/test", name="test_mailing")
def test_send(request: Request, visitor: Admin, mailing_id: PathId, form: FormData) -> Response:
    """Send the test now, then show how it went (a reload shows it again, sending nothing)."""
    settings = settings_of(request)
    typed = {"test_to": form.get("test_to"), "test_as": form.get("test_as")}
    try:
        addresses = addresses_to_test(typed["test_to"])
        with db_of(request).session() as session:
            transport = mail_transport(session, settings, SecretBox.from_settings(settings))
            sent = send_test(
                session,
                mailing_id,
                addresses,
                personalized_as=typed["test_as"],
                links=LinkMaker.from_settings(settings),
                transport=transport,
            )
    except KithError as error:
        return _page(request, mailing_id, test_error=error, typed=typed)
    went = [test.address for test in sent.sent if test.status == "sent"]
    failed = [f"{test.address}: {test.detail}" for test in sent.sent if test.status != "sent"]
    outcome = {
        "mailing": mailing_id,
        "tested": ", ".join(went),
        "failed": "; ".join(failed),
        "as": sent.personalized_as,
    }
    token = sign(outcome, key=settings.signing_key(), purpose=TEST_OUTCOME)
    return see_other(request, "mailing", {"test": token}, mailing_id=mailing_id)


def _test_outcome(request: Request, mailing_id: int, token: str) -> dict[str, str]:
    """How the test sent from this mailing's page went, as the send's answer signed it: a link
    cannot make the page claim a test that was not sent, or show words of its own."""
    if not token:
        return {}
    try:
        outcome = verify(token, key=settings_of(request).signing_key(), purpose=TEST_OUTCOME)
    except BadSignature:
        return {}
    return outcome if outcome.get("mailing") == mailing_id else {}


@router.post("/mailings/{mailing_id}/schedule", name="schedule_mailing")
def schedule(request: Request, visitor: Admin, mailing_id: PathId, form: FormData) -> Response:
    """Send at the date and time typed, in the browser's time zone (UTC without the script)."""
    typed = {"send_at": form.get("send_at"), "timezone": form.get("timezone")}
    try:
        at = send_time(typed["send_at"], typed["timezone"])
        with db_of(request).transaction() as session:
            schedule_send(session, mailing_id, at, now=now_of(request))
    except KithError as error:
        return _page(request, mailing_id, schedule_error=error, typed=typed)
    return see_other(request, "mailing", mailing_id=mailing_id)


@router.post("/mailings/{mailing_id}/unschedule", name="unschedule_mailing")
def unschedule(request: Request, visitor: Admin, mailing_id: PathId) -> Response:
    with db_of(request).transaction() as session:
        unschedule_send(session, mailing_id)
    return see_other(request, "mailing", mailing_id=mailing_id)


@router.get("/mailings/{mailing_id}/status", name="mailing_status")
def mailing_status(request: Request, visitor: Admin, mailing_id: PathId) -> Response:
    """Whether the send stopped (the page then reloads to show what happened)."""
    with db_of(request).session() as session:
        mailing = get_mailing(session, mailing_id)
    html = site_of(request).templates.get_template("mailing_status.html").render(mailing=mailing)
    return JSONResponse(
        {"done": mailing.status != "sending", "status": mailing.status, "html": html}
    )


def _page(
    request: Request,
    mailing_id: int,
    *,
    preview_to: str = "",
    tests: dict[str, str] | None = None,
    test_error: KithError | None = None,
    schedule_error: KithError | None = None,
    typed: dict[str, str] | None = None,
) -> Response:
    """The mailing's page; with a form's error (said where that form is), as a 4xx."""
    settings = settings_of(request)
    shown: dict[str, Any] | None = None
    preview_error = None
    with db_of(request).session() as session:
        mailing = get_mailing(session, mailing_id)
        groups = mailing_groups(session, mailing)
        recipients = count_recipients(session, mailing)
        sent = has_deliveries(session, mailing)
        if preview_to.strip():
            try:
                links = LinkMaker.from_settings(settings)
                shown = _shown(preview(session, mailing_id, preview_to, links=links))
            except KithError as error:
                preview_error = str(error)
    refused = test_error or schedule_error
    return render(
        request,
        "mailing.html",
        status_code=refused.http_status if refused else 200,
        mailing=mailing,
        groups=groups,
        recipients=recipients,
        preview_to=preview_to,
        preview=shown,
        preview_error=preview_error,
        tests=tests or {},
        test_error=str(test_error) if test_error else None,
        schedule_error=str(schedule_error) if schedule_error else None,
        typed=typed or {},
        test_cap=TEST_ADDRESSES,
        duplicate_risk=_duplicate_risk(mailing),
        editable=mailing.status in EDITABLE,
        sent=sent,
    )


@router.post("/mailings/{mailing_id}/delete", name="delete_mailing")
def delete(request: Request, visitor: Admin, mailing_id: PathId) -> Response:
    """Delete a mailing never sent, then Mailings; one sent is refused (archive it)."""
    with db_of(request).transaction() as session:
        delete_mailing(session, mailing_id)
    return see_other(request, "mailings")


@router.post("/mailings/{mailing_id}/archive", name="archive_mailing")
def archive(request: Request, visitor: Admin, mailing_id: PathId) -> Response:
    with db_of(request).transaction() as session:
        archive_mailing(session, mailing_id, now=now_of(request))
    return see_other(request, "mailing", mailing_id=mailing_id)


@router.post("/mailings/{mailing_id}/unarchive", name="unarchive_mailing")
def unarchive(request: Request, visitor: Admin, mailing_id: PathId) -> Response:
    with db_of(request).transaction() as session:
        unarchive_mailing(session, mailing_id)
    return see_other(request, "mailing", mailing_id=mailing_id)


def _values(form: Form) -> dict[str, Any]:
    return {
        "name": form.text("name"),
        "subject": form.get("subject"),
        "html": form.get("html"),
        "text": form.get("text"),
        "include": form.getlist("include"),
        "exclude": form.getlist("exclude"),
        "from_address": form.text("from_address") or DEFAULT_FROM,
        "from_name": form.text("from_name"),
    }


def _draft(values: dict[str, Any]) -> MailingDraft:
    return MailingDraft(
        name=values["name"],
        subject=values["subject"],
        html=values["html"],
        text=values["text"] or None,
        include=values["include"],
        exclude=values["exclude"],
        from_address=values["from_address"],
        from_name=values["from_name"] or None,
    )


def _editor(
    request: Request,
    mailing_id: int | None,
    values: dict[str, Any],
    *,
    error: KithError | None = None,
) -> Response:
    """The editor; a template refused is said problem by problem, each linked to its line."""
    with db_of(request).session() as session:
        groups = list_groups(session)
        fields = personalization_fields(session)
    return render_form(
        request,
        "mailing_edit.html",
        error,
        mailing_id=mailing_id,
        values=values,
        groups=groups,
        fields=fields,
        problems=error.problems if isinstance(error, InvalidTemplate) else (),
    )


def _shown(message: Any) -> dict[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    return {
        "to": str(message["To"]),
        "subject": str(message["Subject"]),
        "text": text.get_content() if text else "",
        "html": html.get_content() if html else "",
    }


def _duplicate_risk(mailing: Mailing) -> str | None:
    """Which rules a send was held for (the reason without its heading, said by the page, nor
    the command-line advice)."""
    reason = mailing.status_reason or ""
    if mailing.status != "held" or not reason.startswith(f"{DUPLICATE_RISK}: "):
        return None
    return reason.removeprefix(f"{DUPLICATE_RISK}: ").split(DUPLICATE_ADVICE)[0]
