"""Community logins: a member's way into the community pages, as a member or a Super Admin.

Every login belongs to a member (found by email), because List Builder, credentials and
rules record which member acted and check that the member is a Super Admin.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, Session, mapped_column

from kith.community.members import find_member
from kith.community.models import Base
from kith.errors import InvalidInput
from kith.throttling import FailureColumns
from kith.web.accounts import AccountColumns, create_account

MEMBER = "member"
SUPER_ADMIN = "super_admin"
ROLES = (MEMBER, SUPER_ADMIN)


class SignInFailure(FailureColumns, Base):
    """Wrong passwords per client address and login (the subject: its email key)."""

    __tablename__ = "sign_in_failures"


class Account(AccountColumns, Base):
    """A member's login: an email, an Argon2 hash, the role `member` or `super_admin`."""

    __tablename__ = "accounts"
    sign_in_failures = SignInFailure

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), unique=True)


def create_login(
    session: Session, *, email: str, role: str, password: str, now: datetime
) -> Account:
    """A login for the member with this email; `super_admin` only for a Super Admin member."""
    member = find_member(session, email)
    if role == SUPER_ADMIN and not member.is_super_admin:
        raise InvalidInput(
            f"{member.email or member.contact_key} is not a Super Admin in the community; "
            "give them the role member, or make them a Super Admin first"
        )
    return create_account(
        session,
        Account,
        email=member.email or email,
        role=role,
        roles=ROLES,
        password=password,
        now=now,
        member_id=member.id,
    )
