"""Marketing logins: the admins who use the marketing pages (kith.web.accounts does the work)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from kith.marketing.models import Base
from kith.throttling import FailureColumns
from kith.web.accounts import AccountColumns, create_account

ADMIN = "admin"
ROLES = (ADMIN,)


class SignInFailure(FailureColumns, Base):
    """Wrong passwords per client address and login (the subject: its email key)."""

    __tablename__ = "sign_in_failures"


class Account(AccountColumns, Base):
    """A marketer's login: an email, an Argon2 hash, the role `admin`."""

    __tablename__ = "accounts"
    sign_in_failures = SignInFailure


def create_login(
    session: Session, *, email: str, role: str, password: str, now: datetime
) -> Account:
    return create_account(
        session, Account, email=email, role=role, roles=ROLES, password=password, now=now
    )
