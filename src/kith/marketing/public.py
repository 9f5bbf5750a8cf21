"""The pages a message's recipients reach without signing in: unsubscribe, open, click.

Every link carries a signed token (kith.marketing.mailings.links); a forged or altered one gets
400 and changes nothing. Unsubscribing works from the link's page and by the one-click POST of
RFC 8058 (`List-Unsubscribe-Post: List-Unsubscribe=One-Click`).
"""

from __future__ import annotations

import base64
from html import escape

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from kith.marketing.mailings.links import read_link
from kith.marketing.mailings.tracking import record_event, sent_to_erased, unsubscribe
from kith.web.requests import db_of, now_of

router = APIRouter(include_in_schema=False)

# A transparent 1x1 GIF.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _key(request: Request) -> bytes:
    key: bytes = request.app.state.settings.signing_key()
    return key


@router.get("/t/open/{token}")
def opened(request: Request, token: str) -> Response:
    payload = read_link(token, "open", key=_key(request))
    with db_of(request).transaction() as session:
        record_event(session, int(payload["d"]), "open", now=now_of(request))
    return Response(PIXEL, media_type="image/gif", headers={"Cache-Control": "no-store"})


@router.get("/t/click/{token}")
def clicked(request: Request, token: str) -> Response:
    payload = read_link(token, "click", key=_key(request))
    url = str(payload.get("u", ""))
    if not url.lower().startswith(("http://", "https://")):
        return Response("this link is not valid", status_code=400)
    with db_of(request).transaction() as session:
        delivery = record_event(session, int(payload["d"]), "click", now=now_of(request), url=url)
    if delivery is None:
        return HTMLResponse(ERASED_PAGE)
    return RedirectResponse(url, status_code=302)


@router.get("/u/{token}", response_class=HTMLResponse)
def unsubscribe_page(request: Request, token: str) -> HTMLResponse:
    """The link's page: one button, so that mail scanners following links unsubscribe nobody."""
    payload = read_link(token, "unsubscribe", key=_key(request))
    with db_of(request).session() as session:
        if sent_to_erased(session, int(payload["d"])):
            return HTMLResponse(ERASED_PAGE)
    return HTMLResponse(
        _page(
            "Unsubscribe",
            '<p>Stop receiving these messages?</p><form method="post">'
            '<button type="submit">Unsubscribe</button></form>',
        )
    )


@router.post("/u/{token}", response_class=HTMLResponse)
def unsubscribe_now(request: Request, token: str) -> HTMLResponse:
    """The page's button, and the one-click POST a mail client sends by itself."""
    payload = read_link(token, "unsubscribe", key=_key(request))
    with db_of(request).transaction() as session:
        if sent_to_erased(session, int(payload["d"])):
            return HTMLResponse(ERASED_PAGE)
        subscriber = unsubscribe(session, int(payload["d"]), now=now_of(request))
        address = subscriber.email if subscriber else "this address"
    return HTMLResponse(_page("Unsubscribed", f"<p>{escape(address)} is unsubscribed.</p>"))


def _page(title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
        f"<body><main><h1>{title}</h1>{body}</main></body></html>"
    )


# What the links of a message to a person erased since answer; nothing is recorded.
ERASED_PAGE = _page(
    "Not on our lists",
    "<p>This link no longer leads anywhere: the address it was sent to has been erased from"
    " our lists.</p>",
)
