"""API credentials: IAM keys with Argon2-hashed passwords, and authentication with throttling.

Failed attempts are counted per IAM key in `api_auth_failures`, so every web process shares
one count. After `api_failure_limit` failures inside `api_failure_window_seconds` the key is
locked for a full window from the failure that reached the limit; attempts during the lock are
refused without checking the password (a correct password does not lift it) and are not
counted. A success resets the count.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kith.community.members import require_super_admin
from kith.community.models import ApiAuthFailure, ApiCredential
from kith.config import Settings
from kith.db import Database, UTCDateTime
from kith.errors import AuthenticationFailed, InvalidInput, NotFound, Throttled
from kith.passwords import hash_password, needs_rehash, verify_password

AUTHENTICATION_FAILED = "authentication failed: check the HLIAMKey and HLPassword headers"
MISSING_HEADERS = "authentication required: send the HLIAMKey and HLPassword headers"
# last_used_at is a hint for operators, not an audit log: write it at most this often.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# api_auth_failures.iam_key holds this many characters; longer keys are counted by digest.
_MAX_COUNTED_KEY = 200


@dataclass(frozen=True)
class IssuedCredential:
    """A new credential and its password, which exists in clear only in this value."""

    credential: ApiCredential
    password: str


def create_credential(session: Session, *, name: str, by: str, now: datetime) -> IssuedCredential:
    """Issue an IAM key and password; `by` (email or contact key) must be a Super Admin."""
    name = name.strip()
    if not name:
        raise InvalidInput("a credential needs a name (e.g. the system that will use it)")
    if len(name) > 200:
        raise InvalidInput(f"credential name is {len(name)} characters long; the limit is 200")
    creator = require_super_admin(session, by, "create API credentials")
    password = secrets.token_urlsafe(32)
    credential = ApiCredential(
        name=name,
        iam_key=secrets.token_hex(16),
        password_hash=hash_password(password),
        created_by=creator.contact_key,
        created_at=now,
    )
    session.add(credential)
    session.flush()
    return IssuedCredential(credential, password)


def list_credentials(session: Session) -> list[ApiCredential]:
    """Every credential, revoked ones included, oldest first."""
    return list(session.scalars(select(ApiCredential).order_by(ApiCredential.id)))


def revoke_credential(session: Session, iam_key: str, *, by: str, now: datetime) -> ApiCredential:
    """Revoke a credential for good; revoking it again keeps the first revocation time."""
    require_super_admin(session, by, "revoke API credentials")
    credential = session.scalar(select(ApiCredential).where(ApiCredential.iam_key == iam_key))
    if credential is None:
        raise NotFound(f"no API credential has the IAM key {iam_key!r}")
    if credential.revoked_at is None:
        credential.revoked_at = now
    return credential


def authenticate(
    db: Database,
    iam_key: str | None,
    password: str | None,
    *,
    now: datetime,
    settings: Settings,
) -> ApiCredential:
    """The live credential with this key and password, else AuthenticationFailed or Throttled.

    Takes the database rather than a session because a failure must be counted in a
    transaction of its own that commits although the request fails.
    """
    if not iam_key:
        raise AuthenticationFailed(MISSING_HEADERS)
    counted_key = _counted_key(iam_key)
    window = timedelta(seconds=settings.api_failure_window_seconds)
    with db.session() as session:
        failure = session.get(ApiAuthFailure, counted_key)
        credential = session.scalar(select(ApiCredential).where(ApiCredential.iam_key == iam_key))
    if failure is not None:
        _refuse_if_locked(failure, now=now, window=window, limit=settings.api_failure_limit)
    valid = verify_password(credential.password_hash if credential else None, password or "")
    if credential is None or credential.revoked_at is not None or not valid or not password:
        _count_failure(db, counted_key, now=now, window=window, limit=settings.api_failure_limit)
        raise AuthenticationFailed(AUTHENTICATION_FAILED)
    _record_success(db, credential, password, had_failures=failure is not None, now=now)
    return credential


def _refuse_if_locked(
    failure: ApiAuthFailure, *, now: datetime, window: timedelta, limit: int
) -> None:
    lifted_at = failure.window_started_at + window
    if failure.failures >= limit and lifted_at > now:
        retry_after = max(1, math.ceil((lifted_at - now).total_seconds()))
        raise Throttled(
            f"too many failed authentications for this IAM key; retry in {retry_after} seconds",
            retry_after,
        )


def _count_failure(
    db: Database, counted_key: str, *, now: datetime, window: timedelta, limit: int
) -> None:
    """Add one failure in one atomic upsert, so concurrent processes never lose a count.

    A window older than `window` starts again at 1; the failure that reaches `limit` restarts
    the window, which then measures the lock.
    """
    table = ApiAuthFailure.__table__
    insert = (postgresql if db.engine.dialect.name == "postgresql" else sqlite).insert(table)
    now_value = literal(now, UTCDateTime())
    in_window = table.c.window_started_at > literal(now - window, UTCDateTime())
    failures = case((in_window, table.c.failures + 1), else_=1)
    statement = insert.values(
        iam_key=counted_key, failures=1, window_started_at=now
    ).on_conflict_do_update(
        index_elements=[table.c.iam_key],
        set_={
            "failures": failures,
            "window_started_at": case(
                (in_window & (table.c.failures + 1 < limit), table.c.window_started_at),
                else_=now_value,
            ),
        },
    )
    with db.transaction() as session:
        session.execute(statement)


def _record_success(
    db: Database, credential: ApiCredential, password: str, *, had_failures: bool, now: datetime
) -> None:
    """Reset the failure count and refresh last_used_at, writing only when something changed."""
    stale = credential.last_used_at is None or now - credential.last_used_at >= LAST_USED_RESOLUTION
    rehash = needs_rehash(credential.password_hash)
    if not (had_failures or stale or rehash):
        return
    with db.transaction() as session:
        if had_failures:
            session.execute(
                delete(ApiAuthFailure).where(
                    ApiAuthFailure.iam_key == _counted_key(credential.iam_key)
                )
            )
        values: dict[str, object] = {}
        if stale:
            values["last_used_at"] = now
            credential.last_used_at = now
        if rehash:
            values["password_hash"] = hash_password(password)
        if values:
            session.execute(
                update(ApiCredential).where(ApiCredential.id == credential.id).values(**values)
            )


def _counted_key(iam_key: str) -> str:
    if len(iam_key) <= _MAX_COUNTED_KEY:
        return iam_key
    return "sha256:" + hashlib.sha256(iam_key.encode()).hexdigest()
