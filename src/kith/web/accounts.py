"""Logins to the web admin: Argon2-hashed passwords, roles, sign-in with a lock after failures.

Each side keeps its own `accounts` and `sign_in_failures` tables (kith.marketing.accounts,
kith.community.accounts) built from the columns here and in kith.throttling, and these services
work on either. Wrong passwords are counted per client address and login, as the API counts
them per address and IAM key: whoever knows a login's email locks out only their own address,
never the login's owner. `session_version` is part of every session cookie (kith.web.sessions):
raising it signs the account out everywhere, which sign-out and a password change do.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar

from sqlalchemy import Integer, String, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from kith.db import Database, UTCDateTime
from kith.emails import email_key, normalize_email
from kith.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound
from kith.passwords import hash_password, needs_rehash, verify_password
from kith.throttling import FailureColumns, Throttle

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1000
# After this many wrong passwords from one address within LOCK_TIME, that address is locked out
# of the login for LOCK_TIME.
FAILURE_LIMIT = 5
LOCK_TIME = timedelta(minutes=5)
SIGN_IN_FAILED = "the email or password is not right"


class AccountColumns:
    """The columns both sides' `accounts` tables share (each side adds its own), and the side's
    table of wrong passwords."""

    sign_in_failures: ClassVar[type[FailureColumns]]

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    email_key: Mapped[str] = mapped_column(String(320), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    session_version: Mapped[int] = mapped_column(Integer, default=1)
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
    """A new password; every session of the account ends, and every address's lock lifts."""
    account.password_hash = hash_password(check_password(password))
    account.session_version += 1
    _throttle(type(account)).forget_subject(session, account.email_key)
    session.flush()


def end_sessions(session: Session, model: type[Account], account_id: int) -> None:
    """Sign the account out everywhere: cookies carrying the old version stop working."""
    session.execute(
        update(model)
        .where(model.id == account_id)
        .values(session_version=model.session_version + 1)
    )


def sign_in(
    db: Database,
    model: type[Account],
    email: str,
    password: str,
    *,
    source: str,
    now: datetime,
) -> Account:
    """The account these credentials open, else AuthenticationFailed (or Throttled while
    `source`, the client's address, is locked out of this login).

    Takes the database rather than a session because a failure is counted in a transaction of
    its own, which commits although the sign-in fails. Wrong passwords for an email no login has
    are counted too, so that the lock does not tell which emails have a login.
    """
    throttle, subject = _throttle(model), email_key(email)
    with db.session() as session:
        had_failures = throttle.refuse_if_locked(session, source, subject, now=now)
        account = session.scalar(select(model).where(model.email_key == subject))
    valid = verify_password(account.password_hash if account else None, password)
    if account is None or not valid:
        throttle.count_failure(db, source, subject, now=now)
        raise AuthenticationFailed(SIGN_IN_FAILED)
    values: dict[str, Any] = {"signed_in_at": now}
    if needs_rehash(account.password_hash):
        values["password_hash"] = hash_password(password)
    with db.transaction() as session:
        if had_failures:
            throttle.forget(session, source, subject)
        session.execute(update(model).where(model.id == account.id).values(**values))
    for column, value in values.items():
        setattr(account, column, value)
    return account


def _throttle(model: type[AccountColumns]) -> Throttle:
    return Throttle(
        model.sign_in_failures,
        limit=FAILURE_LIMIT,
        window=LOCK_TIME,
        refusal="too many wrong passwords from this address",
    )
