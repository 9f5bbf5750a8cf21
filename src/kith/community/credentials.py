"""API credentials: IAM keys with Argon2-hashed passwords, and authentication with throttling.

Failed attempts are counted per client address and IAM key (kith.throttling): after
`api_failure_limit` failures inside `api_failure_window_seconds` that address gets 429 for that
key, while the key's owner, calling from its own address, still gets in.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kith.community.members import require_super_admin
from kith.community.models import ApiAuthFailure, ApiCredential
from kith.config import Settings
from kith.db import Database
from kith.errors import AuthenticationFailed, InvalidInput, NotFound
from kith.passwords import RecentlyVerified, hash_password, needs_rehash
from kith.throttling import Throttle

AUTHENTICATION_FAILED = "authentication failed: check the HLIAMKey and HLPassword headers"
MISSING_HEADERS = "authentication required: send the HLIAMKey and HLPassword headers"
# last_used_at is a hint for operators, not an audit log: write it at most this often.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# A credential's password is hashed again at most every few minutes per process (see there)
_recently_verified = RecentlyVerified()


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
    source: str,
    now: datetime,
    settings: Settings,
) -> ApiCredential:
    """The live credential with this key and password, else AuthenticationFailed or Throttled.

    `source` is the client's address. Takes the database rather than a session because a
    failure must be counted in a transaction of its own that commits although the request fails.
    """
    if not iam_key:
        raise AuthenticationFailed(MISSING_HEADERS)
    throttle = _throttle(settings)
    with db.session() as session:
        had_failures = throttle.refuse_if_locked(session, source, iam_key, now=now)
        credential = session.scalar(select(ApiCredential).where(ApiCredential.iam_key == iam_key))
    valid = _recently_verified.verify(
        credential.password_hash if credential else None, password or ""
    )
    if credential is None or credential.revoked_at is not None or not valid or not password:
        throttle.count_failure(db, source, iam_key, now=now)
        raise AuthenticationFailed(AUTHENTICATION_FAILED)
    if had_failures:
        with db.transaction() as session:
            throttle.forget(session, source, iam_key)
    _record_use(db, credential, password, now=now)
    return credential


def _record_use(db: Database, credential: ApiCredential, password: str, *, now: datetime) -> None:
    """Refresh last_used_at (and the hash's parameters), writing only when something changed."""
    stale = credential.last_used_at is None or now - credential.last_used_at >= LAST_USED_RESOLUTION
    values: dict[str, object] = {}
    if stale:
        values["last_used_at"] = credential.last_used_at = now
    if needs_rehash(credential.password_hash):
        values["password_hash"] = hash_password(password)
    if values:
        with db.transaction() as session:
            session.execute(
                update(ApiCredential).where(ApiCredential.id == credential.id).values(**values)
            )


def _throttle(settings: Settings) -> Throttle:
    return Throttle(
        ApiAuthFailure,
        limit=settings.api_failure_limit,
        window=timedelta(seconds=settings.api_failure_window_seconds),
        refusal="too many failed authentications for this IAM key from this address",
    )
