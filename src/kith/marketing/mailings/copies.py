"""Duplicating a mailing: a new draft with the same message and groups, whatever became of the
original, to send again or to start the next one from."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from kith.marketing.mailings.definition import (
    MailingDraft,
    create_mailing,
    get_mailing,
    mailing_groups,
)
from kith.marketing.models import Mailing

NAME_LIMIT = 200  # Mailing.name's
COPY_SUFFIX = " (copy)"


def duplicate_mailing(session: Session, mailing_id: int, *, now: datetime) -> Mailing:
    """A draft named after the original with " (copy)", nothing of its sends carried over."""
    original = get_mailing(session, mailing_id)
    groups = mailing_groups(session, original)
    draft = MailingDraft(
        name=original.name[: NAME_LIMIT - len(COPY_SUFFIX)] + COPY_SUFFIX,
        subject=original.subject,
        html=original.html,
        text=original.text,
        include=[group.name for group in groups["include"]],
        exclude=[group.name for group in groups["exclude"]],
        from_address=original.from_address,
        from_name=original.from_name,
    )
    return create_mailing(session, draft, now=now)
