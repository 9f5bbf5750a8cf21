"""Integration Settings: where the community API is, the IAM key and password, Active, edition.

Settings > System Settings > Integration Settings in the product. There is one row (id 1);
the password is kept encrypted (kith.encryption) and no view of the settings contains it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from kith.encryption import SecretBox
from kith.errors import InvalidInput
from kith.marketing.bounces.mailbox import reencrypt_mailbox_password
from kith.marketing.mailings.smtp import reencrypt_smtp_password
from kith.marketing.models import EDITIONS, IntegrationSettings

SETTINGS_ID = 1
MAX_URL_LENGTH = 500
MAX_IAM_KEY_LENGTH = 200
MAX_PASSWORD_LENGTH = 1000
PASSWORD = "the connection's password"
PASSWORD_REMEDY = "set the password again with `kith connection configure --password-stdin`"


@dataclass(frozen=True)
class IntegrationView:
    """The settings as pages, the API and `kith connection show` present them: no password."""

    configured: bool
    active: bool = False
    base_url: str | None = None
    iam_key: str | None = None
    edition: str | None = None
    password_set: bool = False
    updated_at: datetime | None = None

    @classmethod
    def of(cls, row: IntegrationSettings | None) -> IntegrationView:
        if row is None:
            return cls(configured=False)
        return cls(
            configured=True,
            active=row.active,
            base_url=row.base_url,
            iam_key=row.iam_key,
            edition=row.edition,
            password_set=bool(row.password_encrypted),
            updated_at=row.updated_at,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "configured": self.configured,
            "active": self.active,
            "base_url": self.base_url,
            "iam_key": self.iam_key,
            "edition": self.edition,
            "password_set": self.password_set,
            "updated_at": None if self.updated_at is None else self.updated_at.isoformat(),
        }


def get_integration(session: Session) -> IntegrationSettings | None:
    """The Integration Settings, or None before the connection was first configured."""
    return session.get(IntegrationSettings, SETTINGS_ID)


def configure_integration(
    session: Session,
    *,
    box: SecretBox,
    now: datetime,
    url: str | None = None,
    iam_key: str | None = None,
    password: str | None = None,
    active: bool | None = None,
    edition: str | None = None,
) -> IntegrationSettings:
    """Set the Integration Settings: everything given changes, the rest stays as it was.

    The first configuration needs the URL, the IAM key and the password; it starts inactive
    (nothing syncs) and as the online-community edition unless told otherwise. Every value is
    checked before anything changes.
    """
    base_url = None if url is None else _base_url(url)
    key = None if iam_key is None else _header_value("iam_key", iam_key, MAX_IAM_KEY_LENGTH)
    secret = None if password is None else _header_value("password", password, MAX_PASSWORD_LENGTH)
    if edition is not None and edition not in EDITIONS:
        raise InvalidInput(f"edition: {edition!r} is not one of {', '.join(EDITIONS)}")
    row = session.get(IntegrationSettings, SETTINGS_ID, with_for_update=True)
    if row is None:
        missing = [
            name
            for name, value in (("url", base_url), ("iam_key", key), ("password", secret))
            if value is None
        ]
        if missing:
            raise InvalidInput(
                f"the connection is not configured yet: {', '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} required the first time"
            )
        row = IntegrationSettings(id=SETTINGS_ID, active=False, edition=EDITIONS[0])
        session.add(row)
    if base_url is not None:
        row.base_url = base_url
    if key is not None:
        row.iam_key = key
    if secret is not None:
        row.password_encrypted = box.encrypt(secret)
    if active is not None:
        row.active = active
    if edition is not None:
        row.edition = edition
    row.updated_at = now
    session.flush()
    return row


def integration_password(row: IntegrationSettings, box: SecretBox) -> str:
    """The connection's password in clear, for the request that sends it and nothing else."""
    return box.decrypt(row.password_encrypted, what=PASSWORD, remedy=PASSWORD_REMEDY)


def reencrypt_secrets(session: Session, box: SecretBox) -> int:
    """Re-encrypt every secret the marketing database stores with the newest key.

    Run after a new key was put first, so that older keys can be retired. Returns how many
    secrets were re-encrypted; one that no key decrypts stops it with SecretUnreadable.
    """
    count = reencrypt_smtp_password(session, box) + reencrypt_mailbox_password(session, box)
    row = session.get(IntegrationSettings, SETTINGS_ID, with_for_update=True)
    if row is None:
        return count
    row.password_encrypted = box.reencrypt(
        row.password_encrypted, what=PASSWORD, remedy=PASSWORD_REMEDY
    )
    session.flush()
    return count + 1


def _base_url(url: str) -> str:
    """The community API's base URL as the connection prefixes it to `/api/v1/...`."""
    text = url.strip().rstrip("/")
    if len(text) > MAX_URL_LENGTH:
        raise InvalidInput(f"url: {len(text)} characters long; the limit is {MAX_URL_LENGTH}")
    try:
        parts = urlsplit(text)
        if parts.username is not None or parts.password is not None:
            raise InvalidInput(
                "url: must not contain a user name or password; "
                "give the credentials as the IAM key and password"
            )
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as error:
        raise InvalidInput(f"url: {url!r} is not a valid URL ({error})") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidInput(
            f"url: {url!r} is not an http:// or https:// URL with a host "
            "(e.g. https://community.example.org/community)"
        )
    if parts.query or parts.fragment or "?" in text or "#" in text:
        raise InvalidInput(f"url: {url!r} has a query or fragment; give the base URL only")
    if any(character.isspace() for character in text):
        raise InvalidInput(f"url: {url!r} contains white space")
    return text


def _header_value(field: str, value: str, limit: int) -> str:
    """A value sent in an HTTP header: printable ASCII, not empty, not too long."""
    if not value.strip():
        raise InvalidInput(f"{field}: must not be empty")
    if len(value) > limit:
        raise InvalidInput(f"{field}: {len(value)} characters long; the limit is {limit}")
    if value != value.strip() or not all(" " <= character <= "~" for character in value):
        raise InvalidInput(
            f"{field}: use printable ASCII characters without leading or trailing spaces "
            "(it is sent in an HTTP header)"
        )
    return value
