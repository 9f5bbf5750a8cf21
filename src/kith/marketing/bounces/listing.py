"""The messages taken in, for people: listed newest first, one shown with what it reported."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kith.errors import InvalidInput, NotFound
from kith.marketing.bounces.models import BOUNCE_MESSAGE_STATUSES, Bounce, BounceMessage
from kith.marketing.bounces.reading import KINDS

LIST_LIMIT = 1_000


def list_bounce_messages(
    session: Session, *, kind: str | None = None, status: str | None = None, limit: int = LIST_LIMIT
) -> Sequence[BounceMessage]:
    query = select(BounceMessage).order_by(BounceMessage.id.desc()).limit(limit)
    if kind is not None:
        if kind not in KINDS:
            raise InvalidInput(f"--kind must be one of {', '.join(KINDS)}, not {kind!r}")
        query = query.where(BounceMessage.kind == kind)
    if status is not None:
        if status not in BOUNCE_MESSAGE_STATUSES:
            raise InvalidInput(
                f"--status must be one of {', '.join(BOUNCE_MESSAGE_STATUSES)}, not {status!r}"
            )
        query = query.where(BounceMessage.status == status)
    return session.scalars(query).all()


def get_bounce_message(session: Session, number: int) -> BounceMessage:
    message = session.get(BounceMessage, number)
    if message is None:
        raise NotFound(f"no bounce message has the number {number}")
    return message


def bounce_message_json(session: Session, message: BounceMessage, *, raw: bool) -> dict[str, Any]:
    bounces = session.scalars(
        select(Bounce).where(Bounce.message_id == message.id).order_by(Bounce.id)
    )
    view: dict[str, Any] = {
        "number": message.id,
        "received_at": message.received_at.isoformat(),
        "source": message.source,
        "envelope_recipients": message.envelope_recipients,
        "size": message.size,
        "subject": message.subject,
        "status": message.status,
        "kind": message.kind,
        "how": message.how,
        "problem": message.problem,
        "error": message.error,
        "bounces": [
            {
                "email": bounce.email,
                "kind": bounce.kind,
                "mailing": bounce.mailing_id,
                "status_code": bounce.status_code,
                "diagnostic": bounce.diagnostic,
            }
            for bounce in bounces
        ],
    }
    if raw:
        view["raw"] = message.raw.decode("utf-8", "replace")
    return view
