"""Finding members by what users type, and the Super Admin rule for lists and credentials."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kith.community.models import Member
from kith.errors import InvalidInput, NotFound, PermissionDenied


def find_member(session: Session, email_or_contact_key: str) -> Member:
    """The member with this contact key, else the one member with this email (any case)."""
    value = email_or_contact_key.strip()
    member = session.scalar(select(Member).where(Member.contact_key == value))
    if member is not None:
        return member
    matches = session.scalars(
        select(Member).where(func.lower(Member.email) == value.lower()).limit(2)
    ).all()
    if not matches:
        raise NotFound(f"no member has the contact key or email {value!r}")
    if len(matches) > 1:
        raise InvalidInput(f"several members have the email {value!r}; give the contact key")
    return matches[0]


def require_super_admin(session: Session, email_or_contact_key: str, action: str) -> Member:
    """The acting member, who must be a Super Admin to `action` (e.g. "create lists")."""
    member = find_member(session, email_or_contact_key)
    if not member.is_super_admin:
        raise PermissionDenied(
            f"{member.email or member.contact_key} is not a Super Admin; "
            f"only Super Admins can {action}"
        )
    return member
