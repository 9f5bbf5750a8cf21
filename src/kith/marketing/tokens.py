"""Admin API tokens for the marketing REST API: issued once in clear, kept as SHA-256 digests.

A token is `kith_` followed by 256 random bits. Guessing one is hopeless, so unlike the community's
passwords (chosen by people, hashed with Argon2, throttled) a token needs neither a slow hash nor
failure counting: its SHA-256 digest is a unique key looked up in one indexed query, and the
time that look-up takes tells an attacker nothing about any token's text.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from kith.db import Database
from kith.errors import AuthenticationFailed, InvalidInput, NotFound
from kith.marketing.models import ApiToken

TOKEN_START = "kith_"
# Shown in lists so that people can tell tokens apart; far too short to guess the rest from.
PREFIX_LENGTH = 12
NAME_LENGTH = 200
# Longer than any token issued (48 characters): longer texts are refused without hashing them.
MAX_TOKEN_LENGTH = 200
# last_used_at is a hint for operators, not an audit log: write it at most this often.
LAST_USED_RESOLUTION = timedelta(minutes=1)
MISSING_TOKEN = (
    "authentication required: send the header 'Authorization: Bearer <token>' with an admin"
    " API token (kith marketing tokens create --name ...)"
)
INVALID_TOKEN = "authentication failed: the API token is unknown or revoked"


@dataclass(frozen=True)
class IssuedToken:
    """A new token: its stored record, and its text, which exists in clear only in this value."""

    api_token: ApiToken
    token: str


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, *, name: str, now: datetime) -> IssuedToken:
    """Issue a token named for what will use it; only its digest and prefix are stored."""
    name = name.strip()
    if not name or len(name) > NAME_LENGTH:
        raise InvalidInput(
            f"a token name (what will use it) has 1 to {NAME_LENGTH} characters, not {len(name)}"
        )
    token = TOKEN_START + secrets.token_urlsafe(32)
    api_token = ApiToken(
        name=name,
        token_digest=token_digest(token),
        prefix=token[:PREFIX_LENGTH],
        created_at=now,
    )
    session.add(api_token)
    session.flush()
    return IssuedToken(api_token, token)


def list_tokens(session: Session) -> list[ApiToken]:
    """Every token, revoked ones included, oldest first."""
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id)))


def revoke_token(session: Session, reference: str, *, now: datetime) -> ApiToken:
    """Revoke the token with this prefix (or else this name) for good.

    Revoking it again keeps the first revocation time. A name or prefix shared by several
    tokens is refused with their prefixes, so that the caller can pick one.
    """
    reference = reference.strip()
    found = list(session.scalars(select(ApiToken).where(ApiToken.prefix == reference)))
    if not found:
        found = list(session.scalars(select(ApiToken).where(ApiToken.name == reference)))
    if not found:
        raise NotFound(f"no API token has the prefix or name {reference!r}")
    if len(found) > 1:
        prefixes = ", ".join(token.prefix for token in found)
        raise InvalidInput(f"{len(found)} API tokens match {reference!r}; name one: {prefixes}")
    [api_token] = found
    if api_token.revoked_at is None:
        api_token.revoked_at = now
    session.flush()
    return api_token


def authenticate_token(db: Database, token: str | None, *, now: datetime) -> ApiToken:
    """The live token with this text, else AuthenticationFailed.

    Takes the database rather than a session: recording last_used_at is a write of its own,
    made at most once per LAST_USED_RESOLUTION, whether the request reads or writes.
    """
    if not token:
        raise AuthenticationFailed(MISSING_TOKEN, challenge="Bearer")
    if len(token) > MAX_TOKEN_LENGTH or not token.startswith(TOKEN_START):
        raise AuthenticationFailed(INVALID_TOKEN, challenge="Bearer")
    with db.session() as session:
        api_token = session.scalar(
            select(ApiToken).where(ApiToken.token_digest == token_digest(token))
        )
    if api_token is None or api_token.revoked_at is not None:
        raise AuthenticationFailed(INVALID_TOKEN, challenge="Bearer")
    last_used = api_token.last_used_at
    if last_used is None or now - last_used >= LAST_USED_RESOLUTION:
        with db.transaction() as session:
            session.execute(
                update(ApiToken)
                .where(
                    ApiToken.id == api_token.id,
                    or_(
                        ApiToken.last_used_at.is_(None),
                        ApiToken.last_used_at <= now - LAST_USED_RESOLUTION,
                    ),
                )
                .values(last_used_at=now)
            )
        api_token.last_used_at = now
    return api_token
