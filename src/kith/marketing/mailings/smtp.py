"""Which mail server mailings go through: KITH_SMTP_URL, the stored SMTP settings, or the
outbox folder of the embedded default (so a demo needs no mail server)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from kith.config import Settings
from kith.encryption import SecretBox
from kith.errors import InvalidInput
from kith.marketing.mailings.outbox import OutboxTransport, outbox_folder
from kith.marketing.mailings.smtp_sender import SmtpTransport
from kith.marketing.mailings.smtp_url import parse_smtp_url
from kith.marketing.mailings.transport import Transport
from kith.marketing.models import SmtpSettings

SETTINGS_ID = 1
PASSWORD = "the SMTP password"
REMEDY = "set it again with `kith mailings smtp configure --password-stdin`"


def configure_smtp(
    session: Session, *, url: str, password: str | None, box: SecretBox, now: datetime
) -> SmtpSettings:
    """Store the server of `url` (smtp://user@host:port?tls=...&connections=N); the password,
    given apart so that it appears in no URL, is stored encrypted."""
    config = parse_smtp_url(url)
    if config.password is not None:
        raise InvalidInput("give the SMTP password with --password-stdin, not in the URL")
    row = session.get(SmtpSettings, SETTINGS_ID) or SmtpSettings(id=SETTINGS_ID)
    row.host, row.port, row.username = config.host, config.port, config.username
    row.tls, row.connections, row.updated_at = config.tls, config.connections, now
    if password is not None:
        row.password_encrypted = box.encrypt(password) if password else None
    session.add(row)
    session.flush()
    return row


def smtp_view(session: Session, settings: Settings) -> dict[str, Any]:
    """Where mail goes, for `kith mailings smtp show`; never the password."""
    row = session.get(SmtpSettings, SETTINGS_ID)
    return {
        "source": "KITH_SMTP_URL" if settings.smtp_url else "settings" if row else "outbox",
        "transport": mail_transport(
            session, settings, SecretBox.from_settings(settings)
        ).describe(),
        "password_set": bool(row and row.password_encrypted),
    }


def transport_from(smtp_url: str | None, data_dir: Path) -> Transport:
    """SMTP when KITH_SMTP_URL is set, else the outbox folder under the data dir."""
    if smtp_url:
        return SmtpTransport(parse_smtp_url(smtp_url))
    return OutboxTransport(outbox_folder(data_dir))


def mail_transport(session: Session, settings: Settings, box: SecretBox) -> Transport:
    """KITH_SMTP_URL first, then the stored settings, else the outbox in the data dir."""
    if settings.smtp_url:
        return SmtpTransport(parse_smtp_url(settings.smtp_url))
    row = session.get(SmtpSettings, SETTINGS_ID)
    if row is None:
        return OutboxTransport(outbox_folder(settings.data_dir))
    options = f"tls={row.tls}&connections={row.connections}"
    config = parse_smtp_url(f"smtp://{row.host}:{row.port}?{options}")
    password = (
        box.decrypt(row.password_encrypted, what=PASSWORD, remedy=REMEDY)
        if row.password_encrypted
        else None
    )
    return SmtpTransport(replace(config, username=row.username, password=password))


def reencrypt_smtp_password(session: Session, box: SecretBox) -> int:
    row = session.get(SmtpSettings, SETTINGS_ID)
    if row is None or not row.password_encrypted:
        return 0
    row.password_encrypted = box.reencrypt(row.password_encrypted, what=PASSWORD, remedy=REMEDY)
    return 1
