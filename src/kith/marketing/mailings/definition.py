"""Mailings as they are written: name, sender, templates and the groups they go to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kith.emails import InvalidEmail, normalize_email
from kith.errors import Conflict, InvalidInput, NotFound
from kith.marketing.groups.target_groups import get_groups
from kith.marketing.mailings.templates import check_templates
from kith.marketing.models import Mailing, MailingGroup, TargetGroup

NAME_LENGTH = 200
DEFAULT_FROM = "newsletter@example.org"


@dataclass(frozen=True)
class MailingDraft:
    """What a user writes: checked as a whole by `create_mailing` / `change_mailing`."""

    name: str
    subject: str
    html: str
    include: Sequence[str]
    exclude: Sequence[str] = ()
    text: str | None = None
    from_address: str = DEFAULT_FROM
    from_name: str | None = None


def create_mailing(session: Session, draft: MailingDraft, *, now: datetime) -> Mailing:
    """A new draft mailing; templates are checked now, with their line and column."""
    mailing = Mailing(created_at=now, status="draft", skipped_malformed=0)
    _apply(session, mailing, draft, now=now)
    return mailing


def change_mailing(
    session: Session, mailing_id: int, draft: MailingDraft, *, now: datetime
) -> Mailing:
    mailing = get_mailing(session, mailing_id)
    if mailing.status == "scheduled":
        raise Conflict(
            f"mailing {mailing.id} is scheduled for {mailing.scheduled_for:%Y-%m-%d %H:%M} UTC: "
            "unschedule it to change it"
        )
    if mailing.status != "draft" and mailing.status != "held":
        raise Conflict(f"mailing {mailing.id} is {mailing.status}: only a draft can change")
    _apply(session, mailing, draft, now=now)
    if mailing.status == "draft":  # why a send found nobody no longer holds for the change
        mailing.status_reason = None
    return mailing


def get_mailing(session: Session, mailing_id: int) -> Mailing:
    mailing = session.get(Mailing, mailing_id)
    if mailing is None:
        raise NotFound(f"no mailing has the id {mailing_id}")
    return mailing


def mailing_groups(session: Session, mailing: Mailing) -> dict[str, list[TargetGroup]]:
    """The mailing's `include` and `exclude` groups, in the order they were given."""
    rows = session.execute(
        select(MailingGroup.section, TargetGroup)
        .join(TargetGroup, TargetGroup.id == MailingGroup.group_id)
        .where(MailingGroup.mailing_id == mailing.id)
        .order_by(MailingGroup.section, MailingGroup.position)
    ).tuples()
    groups: dict[str, list[TargetGroup]] = {"include": [], "exclude": []}
    for section, group in rows:
        groups[section].append(group)
    return groups


def mailing_json(session: Session, mailing: Mailing) -> dict[str, Any]:
    groups = mailing_groups(session, mailing)
    return {
        "id": mailing.id,
        "name": mailing.name,
        "status": mailing.status,
        "status_reason": mailing.status_reason,
        "from": mailing.from_address,
        "from_name": mailing.from_name,
        "subject": mailing.subject,
        "include": [group.name for group in groups["include"]],
        "exclude": [group.name for group in groups["exclude"]],
        "created_at": mailing.created_at.isoformat(),
        "finished_at": mailing.finished_at.isoformat() if mailing.finished_at else None,
        "scheduled_for": mailing.scheduled_for.isoformat() if mailing.scheduled_for else None,
        "archived_at": mailing.archived_at.isoformat() if mailing.archived_at else None,
    }


def _apply(session: Session, mailing: Mailing, draft: MailingDraft, *, now: datetime) -> None:
    name = draft.name.strip()
    if not name or len(name) > NAME_LENGTH:
        raise InvalidInput(f"a mailing name has 1 to {NAME_LENGTH} characters, not {len(name)}")
    try:
        from_address = normalize_email(draft.from_address)
    except InvalidEmail as error:
        raise InvalidInput(f"from: {error}") from None
    check_templates(draft.subject, draft.html, draft.text)
    include, exclude = get_groups(session, draft.include), get_groups(session, draft.exclude)
    if not include:
        raise InvalidInput("a mailing needs at least one group to include")
    mailing.name, mailing.subject, mailing.html, mailing.text = (
        name,
        draft.subject,
        draft.html,
        draft.text,
    )
    mailing.from_address, mailing.from_name = from_address, draft.from_name
    mailing.updated_at = now
    session.add(mailing)
    session.flush()
    session.execute(delete(MailingGroup).where(MailingGroup.mailing_id == mailing.id))
    session.add_all(
        MailingGroup(mailing_id=mailing.id, section=section, group_id=group.id, position=n)
        for section, groups in (("include", include), ("exclude", exclude))
        for n, group in enumerate(groups)
    )
    session.flush()
