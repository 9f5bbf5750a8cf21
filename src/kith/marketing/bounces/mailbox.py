"""The bounce mailbox (KITH_BOUNCE_MAILBOX_URL, or `kith bounces mailbox configure`, whose
password is stored encrypted): for an MTA that delivers the bounce address to a
mailbox rather than to `kith bounces serve`, the worker fetches it.

`imaps://user:password@host[:993]/INBOX` or `pop3s://user:password@host[:995]` (`imap://` and
`pop3://` for a server on loopback without TLS). Each fetch takes the messages in by batches
(kith.marketing.bounces.intake) and removes a message from the mailbox only once it is
recorded: a fetch that dies midway leaves the rest in the mailbox, and a message fetched twice
is a duplicate that changes nothing.
"""

from __future__ import annotations

import imaplib
import logging
import poplib
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from urllib.parse import unquote, urlsplit

from sqlalchemy.orm import Session

from kith.config import Settings
from kith.db import Database
from kith.encryption import SecretBox
from kith.errors import InvalidInput, KithError
from kith.marketing.bounces.intake import BATCH, Arrival, BouncePolicy, Intake, take_in_batch
from kith.marketing.bounces.models import BounceMailboxSettings

log = logging.getLogger(__name__)
Protocol = Literal["imap", "pop3"]
URL_FORM = "imaps://user:password@host[:port]/FOLDER or pop3s://user:password@host[:port]"
_SCHEMES: dict[str, tuple[Protocol, bool, int]] = {
    "imaps": ("imap", True, 993),
    "imap": ("imap", False, 143),
    "pop3s": ("pop3", True, 995),
    "pop3": ("pop3", False, 110),
}
TIMEOUT_SECONDS = 60.0
SETTINGS_ID = 1
PASSWORD = "the bounce mailbox's password"
REMEDY = "set it again with `kith bounces mailbox configure --password-stdin`"


class MailboxUnavailable(KithError):
    """The mailbox cannot be read (unreachable, TLS or login refused): nothing was taken."""

    http_status = 503


@dataclass(frozen=True)
class MailboxConfig:
    """Where the bounce mailbox is; `repr` leaves the password out."""

    protocol: Protocol
    tls: bool
    host: str
    port: int
    username: str
    password: str = field(repr=False)
    folder: str = "INBOX"

    def describe(self) -> str:
        scheme = self.protocol + ("s" if self.tls else "")
        folder = f"/{self.folder}" if self.protocol == "imap" else ""
        return f"{scheme}://{self.username}@{self.host}:{self.port}{folder}"


def parse_mailbox_url(url: str, *, password: str | None = None) -> MailboxConfig:
    """Read KITH_BOUNCE_MAILBOX_URL, or a stored URL with its `password` given apart; errors
    name the part at fault, never the password."""
    split = urlsplit(url.strip())
    if split.scheme.lower() not in _SCHEMES:
        raise InvalidInput(
            f"bounce mailbox URL: it must start with imaps:// or pop3s:// ({URL_FORM})"
        )
    protocol, tls, default_port = _SCHEMES[split.scheme.lower()]
    if password is None:
        password = unquote(split.password) if split.password is not None else None
    if not split.hostname or not split.username or password is None:
        raise InvalidInput(
            f"bounce mailbox URL: the user, password and host are needed ({URL_FORM})"
        )
    try:
        port = split.port or default_port
    except ValueError:
        raise InvalidInput(
            "bounce mailbox URL: the port must be a number from 1 to 65535"
        ) from None
    folder = unquote(split.path.lstrip("/")) or "INBOX"
    if protocol == "pop3" and folder != "INBOX":
        raise InvalidInput("bounce mailbox URL: POP3 has one mailbox; name no folder")
    return MailboxConfig(
        protocol, tls, split.hostname, port, unquote(split.username), password, folder
    )


def configure_mailbox(
    session: Session, *, url: str, password: str, box: SecretBox, now: datetime
) -> MailboxConfig:
    """Store the mailbox of `url` (imaps://user@host/INBOX); the password, given apart so that
    it appears in no URL or shell history, is stored encrypted."""
    if urlsplit(url.strip()).password is not None:
        raise InvalidInput("give the mailbox password with --password-stdin, not in the URL")
    if not password:
        raise InvalidInput("the mailbox password is empty")
    config = parse_mailbox_url(url, password=password)
    row = session.get(BounceMailboxSettings, SETTINGS_ID) or BounceMailboxSettings(id=SETTINGS_ID)
    row.url, row.password_encrypted, row.updated_at = url.strip(), box.encrypt(password), now
    session.add(row)
    session.flush()
    return config


def mailbox_config(session: Session, settings: Settings, box: SecretBox) -> MailboxConfig | None:
    """KITH_BOUNCE_MAILBOX_URL first, then the stored mailbox; None when there is neither."""
    if settings.bounce_mailbox_url:
        return parse_mailbox_url(settings.bounce_mailbox_url)
    row = session.get(BounceMailboxSettings, SETTINGS_ID)
    if row is None:
        return None
    password: str = box.decrypt(row.password_encrypted, what=PASSWORD, remedy=REMEDY)
    return parse_mailbox_url(row.url, password=password)


def reencrypt_mailbox_password(session: Session, box: SecretBox) -> int:
    row = session.get(BounceMailboxSettings, SETTINGS_ID)
    if row is None:
        return 0
    row.password_encrypted = box.reencrypt(row.password_encrypted, what=PASSWORD, remedy=REMEDY)
    return 1


def fetch_bounces(
    db: Database,
    policy: BouncePolicy,
    config: MailboxConfig,
    *,
    clock: Callable[[], datetime],
    ssl_context: ssl.SSLContext | None = None,
) -> list[Intake]:
    """Take in every message of the mailbox, removing each once it is recorded."""
    context = ssl_context or ssl.create_default_context()
    reader = _imap if config.protocol == "imap" else _pop3
    taken: list[Intake] = []
    with reader(config, context) as mailbox:
        for batch in mailbox.batches():
            taken += take_in_batch(
                db,
                policy,
                [Arrival(raw, config.protocol) for _, raw in batch],
                now=clock(),
            )
            mailbox.remove([key for key, _ in batch])  # recorded: stored, processed or failed
    return taken


def poll_mailbox(db: Database, settings: Settings, *, clock: Callable[[], datetime]) -> int:
    """The worker's periodic fetch of the mailbox, if one is set; how many messages it took."""
    with db.session() as session:
        config = mailbox_config(session, settings, SecretBox.from_settings(settings))
    if config is None:
        return 0
    taken = fetch_bounces(db, BouncePolicy.from_settings(settings), config, clock=clock)
    if taken:
        log.info("%d bounce messages taken from %s", len(taken), config.describe())
    return len(taken)


class _Mailbox:
    """A mailbox's messages a batch at a time, as (key, raw bytes); `remove` by key."""

    def batches(self) -> Iterator[list[tuple[str, bytes]]]:
        raise NotImplementedError

    def remove(self, keys: list[str]) -> None:
        raise NotImplementedError


class _ImapMailbox(_Mailbox):
    def __init__(self, connection: imaplib.IMAP4) -> None:
        self.connection = connection

    def batches(self) -> Iterator[list[tuple[str, bytes]]]:
        _, found = self.connection.uid("SEARCH", "UNDELETED")
        uids = found[0].decode().split() if found and found[0] else []
        for start in range(0, len(uids), BATCH):
            batch = []
            for uid in uids[start : start + BATCH]:
                _, data = self.connection.uid("FETCH", uid, "(BODY.PEEK[])")
                raw = next((part[1] for part in data if isinstance(part, tuple)), None)
                if raw is not None:
                    batch.append((uid, raw))
            yield batch

    def remove(self, keys: list[str]) -> None:
        for uid in keys:
            self.connection.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)")
        self.connection.expunge()


class _Pop3Mailbox(_Mailbox):
    def __init__(self, connection: poplib.POP3) -> None:
        self.connection = connection

    def batches(self) -> Iterator[list[tuple[str, bytes]]]:
        count, _ = self.connection.stat()
        numbers = list(range(1, count + 1))
        for start in range(0, len(numbers), BATCH):
            batch = []
            for number in numbers[start : start + BATCH]:
                _, lines, _ = self.connection.retr(number)
                batch.append((str(number), b"\r\n".join(lines) + b"\r\n"))
            yield batch

    def remove(self, keys: list[str]) -> None:
        for number in keys:
            self.connection.dele(int(number))  # done when the session ends with QUIT


@contextmanager
def _imap(config: MailboxConfig, context: ssl.SSLContext) -> Iterator[_Mailbox]:
    try:
        if config.tls:
            connection: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                config.host, config.port, ssl_context=context, timeout=TIMEOUT_SECONDS
            )
        else:
            connection = imaplib.IMAP4(config.host, config.port, timeout=TIMEOUT_SECONDS)
        connection.login(config.username, config.password)
        status, _ = connection.select(_quoted(config.folder))
        if status != "OK":
            raise MailboxUnavailable(f"{config.describe()}: no folder {config.folder!r}")
    except (OSError, imaplib.IMAP4.error) as error:
        raise MailboxUnavailable(
            f"{config.describe()}: {error.__class__.__name__}: {error}"
        ) from error
    try:
        yield _ImapMailbox(connection)
    finally:
        with suppress(OSError, imaplib.IMAP4.error):
            connection.close()
            connection.logout()


@contextmanager
def _pop3(config: MailboxConfig, context: ssl.SSLContext) -> Iterator[_Mailbox]:
    try:
        if config.tls:
            connection: poplib.POP3 = poplib.POP3_SSL(
                config.host, config.port, context=context, timeout=TIMEOUT_SECONDS
            )
        else:
            connection = poplib.POP3(config.host, config.port, timeout=TIMEOUT_SECONDS)
        connection.user(config.username)
        connection.pass_(config.password)
    except (OSError, poplib.error_proto) as error:
        raise MailboxUnavailable(
            f"{config.describe()}: {error.__class__.__name__}: {error}"
        ) from error
    try:
        yield _Pop3Mailbox(connection)
    except BaseException:
        connection.rset()  # what was marked deleted stays: the batch was not all recorded
        raise
    finally:
        with suppress(OSError, poplib.error_proto):
            connection.quit()


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unavailable(config: MailboxConfig, error: Exception) -> MailboxUnavailable:
    return MailboxUnavailable(f"{config.describe()}: {error.__class__.__name__}: {error}")
