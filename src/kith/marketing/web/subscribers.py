"""Contacts > Subscribers: search by email, Remote ID or name, a page at a time; each
subscriber's page with the history of their status (a bounce's evidence) and reactivation,
their data to download, erasing them, and what marketing did with them (subscriber_activity)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from fastapi import Request, Response
from sqlalchemy.orm import Session

from kith.encryption import SecretBox
from kith.erasures import forget_deleted_rows
from kith.errors import NotFound
from kith.marketing.mailings.outbox import outbox_folder
from kith.marketing.models import SUBSCRIBER_STATUSES, Subscriber
from kith.marketing.personal_data import erase_subscriber, export_subscriber, lift_erasure
from kith.marketing.subscribers import reactivate, status_history
from kith.marketing.web.search import search_subscribers
from kith.marketing.web.subscriber_activity import subscriber_activity
from kith.web.requests import PathId, db_of, json_download, now_of, settings_of
from kith.web.site import Admin, FormData, back_to_page, page_router, render, see_other

router = page_router()
back_to_page(router, "/subscribers/{subscriber_id}/reactivate", "subscriber")
back_to_page(router, "/subscribers/{subscriber_id}/erase", "subscriber")
back_to_page(router, "/erasures/lift", "subscribers")


@router.get("/subscribers", name="subscribers")
def subscribers(
    request: Request,
    visitor: Admin,
    q: str = "",
    status: str = "",
    page: int = 1,
    erased: str = "",
    lifted: str = "",
) -> Response:
    with db_of(request).session() as session:
        found = search_subscribers(session, q, status=status or None, page=page)
    return render(
        request,
        "subscribers.html",
        found=found,
        q=q,
        status=status,
        statuses=SUBSCRIBER_STATUSES,
        erased=erased,
        lifted=lifted,
        page_link=lambda number: "?" + urlencode({"q": q, "status": status, "page": number}),
    )


@router.get("/subscribers/{subscriber_id}", name="subscriber")
def subscriber(request: Request, visitor: Admin, subscriber_id: PathId) -> Response:
    with db_of(request).session() as session:
        found = _subscriber(session, subscriber_id)
        groups = export_subscriber(session, _reference(found))["groups"]
        history = status_history(session, found)
        activity = subscriber_activity(session, found)
    return render(
        request,
        "subscriber.html",
        subscriber=found,
        groups=groups,
        history=history,
        activity=activity,
    )


@router.post("/subscribers/{subscriber_id}/reactivate", name="reactivate_subscriber")
def reactivate_(request: Request, visitor: Admin, subscriber_id: PathId) -> Response:
    """A bounced subscriber subscribed again by a marketer; the history keeps the bounce."""
    with db_of(request).transaction() as session:
        reactivate(session, _subscriber(session, subscriber_id), now=now_of(request))
    return see_other(request, "subscriber", subscriber_id=subscriber_id)


@router.get("/subscribers/{subscriber_id}/data", name="subscriber_data")
def subscriber_data(request: Request, visitor: Admin, subscriber_id: PathId) -> Response:
    """Everything marketing keeps about the subscriber, as a JSON download."""
    with db_of(request).session() as session:
        found = _subscriber(session, subscriber_id)
        document = export_subscriber(session, _reference(found), outbox=_outbox(request))
    return json_download(document, f"kith-subscriber-{subscriber_id}.json")


@router.post("/subscribers/{subscriber_id}/erase", name="erase_subscriber")
def erase(request: Request, visitor: Admin, subscriber_id: PathId) -> Response:
    db = db_of(request)
    with db.transaction() as session:
        found = _subscriber(session, subscriber_id)
        erase_subscriber(
            session,
            _reference(found),
            by=visitor.account.email if visitor.account else "an admin",
            box=SecretBox.from_settings(settings_of(request)),
            now=now_of(request),
            outbox=_outbox(request),
        )
    forget_deleted_rows(db)
    return see_other(request, "subscribers", {"erased": "1"})


@router.post("/erasures/lift", name="lift_erasure")
def lift(request: Request, visitor: Admin, form: FormData) -> Response:
    """Let the platform edition's sync create an erased person (email or Remote ID) again."""
    reference = form.text("reference")
    with db_of(request).transaction() as session:
        lift_erasure(session, reference, box=SecretBox.from_settings(settings_of(request)))
    return see_other(request, "subscribers", {"lifted": reference.strip()})


def _subscriber(session: Session, subscriber_id: int) -> Subscriber:
    found = session.get(Subscriber, subscriber_id)
    if found is None:
        raise NotFound(f"no subscriber has the id {subscriber_id}")
    return found


def _reference(subscriber: Subscriber) -> str:
    """What finds this subscriber alone: the Remote ID, else the email (unique without one)."""
    return subscriber.remote_id or subscriber.email


def _outbox(request: Request) -> Path:
    return outbox_folder(settings_of(request).data_dir)
