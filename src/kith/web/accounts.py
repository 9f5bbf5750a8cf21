"""Logins to the web admin: Argon2-hashed passwords, roles, sign-in with a lock after failures.

Each side keeps its own `accounts` table (kith.marketing.accounts, kith.community.accounts)
built from the columns here, and these services work on either. `session_version` is part of
every session cookie (kith.web.sessions): raising it signs the account out everywhere, which
sign-out and a password change do.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Integer, String, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from kith.db import Database, UTCDateTime
from kith.emails import email_key, normalize_email
from kith.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound, Throttled
from kith.passwords import hash_password, needs_rehash, verify_password

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1000
# After this many wrong passwords in a row an account is locked for LOCK_TIME.
FAILURE_LIMIT = 5
LOCK_TIME = timedelta(minutes=5)
SIGN_IN_FAILED = "the email or password is not right"


class AccountColumns:
    """The columns both sides' `accounts` tables share (each side adds its own)."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    email_key: Mapped[str] = mapped_column(String(320), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    signed_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


Account = TypeVar("Account", bound=AccountColumns)


@dataclass(frozen=True)
class NewLogin:
    """An account just created, and its password when Kith generated it (shown once)."""

    account: AccountColumns
    generated_password: str | None


def generate_password() -> str:
    return secrets.token_urlsafe(18)


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"password: at least {MIN_PASSWORD_LENGTH} characters, not {len(password)}"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(f"password: at most {MAX_PASSWORD_LENGTH} characters")
    return password


def create_account(
    session: Session,
    model: type[Account],
    *,
    email: str,
    role: str,
    roles: Sequence[str],
    password: str,
    now: datetime,
    **side_columns: Any,
) -> Account:
    """A new login; the email is unique on its side (any case), the role one of `roles`."""
    address = normalize_email(email)
    if role not in roles:
        raise InvalidInput(f"role: {role!r} is not one of {', '.join(roles)}")
    check_password(password)
    if session.scalar(select(model.id).where(model.email_key == email_key(address))):
        raise Conflict(f"a login for {address} already exists")
    values: dict[str, Any] = {
        "email": address,
        "email_key": email_key(address),
        "role": role,
        "password_hash": hash_password(password),
        "session_version": 1,
        "failed_sign_ins": 0,
        "created_at": now,
    }
    account = model(**values, **side_columns)
    session.add(account)
    session.flush()
    return account


def get_account(session: Session, model: type[Account], email: str) -> Account:
    found = session.scalar(select(model).where(model.email_key == email_key(email)))
    if found is None:
        raise NotFound(f"no login has the email {email.strip()!r}")
    return found


def list_accounts(session: Session, model: type[Account]) -> list[Account]:
    return list(session.scalars(select(model).order_by(model.email_key)))


def set_password(session: Session, account: AccountColumns, password: str) -> None:
    """A new password; every session of the account ends."""
    account.password_hash = hash_password(check_password(password))
    account.session_version += 1
    account.failed_sign_ins, account.locked_until = 0, None
    session.flush()


def end_sessions(session: Session, model: type[Account], account_id: int) -> None:
    """Sign the account out everywhere: cookies carrying the old version stop working."""
    session.execute(
        update(model)
        .where(model.id == account_id)
        .values(session_version=model.session_version + 1)
    )


def sign_in(
    db: Database, model: type[Account], email: str, password: str, *, now: datetime
) -> Account:
    """The account these credentials open, else AuthenticationFailed (or Throttled while locked).

    Takes the database rather than a session because a failure is counted in a transaction of
    its own, which commits although the sign-in fails.
    """
    with db.transaction() as session:
        account = session.scalar(select(model).where(model.email_key == email_key(email)))
        if account is not None and account.locked_until is not None and account.locked_until > now:
            wait = max(1, int((account.locked_until - now).total_seconds()))
            raise Throttled(f"too many wrong passwords; try again in {wait} seconds", wait)
        valid = verify_password(account.password_hash if account else None, password)
        if account is None:
            raise AuthenticationFailed(SIGN_IN_FAILED)
        if not valid:
            account.failed_sign_ins += 1
            if account.failed_sign_ins >= FAILURE_LIMIT:
                account.failed_sign_ins, account.locked_until = 0, now + LOCK_TIME
        else:
            account.failed_sign_ins, account.locked_until = 0, None
            account.signed_in_at = now
            if needs_rehash(account.password_hash):
                account.password_hash = hash_password(password)
    if not valid:
        raise AuthenticationFailed(SIGN_IN_FAILED)
    return account
