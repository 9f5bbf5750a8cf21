"""The outbox folder, the embedded default transport: each message becomes a file
`<key>.eml` in the data dir's outbox, so a demo needs no mail server; `kith outbox list` reads
it."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import default
from pathlib import Path

from kith.errors import InvalidInput
from kith.marketing.mailings.mime import message_bytes
from kith.marketing.mailings.transport import DeliveryResult, check_envelope


def outbox_folder(data_dir: Path) -> Path:
    return data_dir / "outbox"


_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


class OutboxTransport:
    """The embedded default: each message becomes `<folder>/<key>.eml`, so no server is needed.

    The file is the message as an SMTP server would store it: a `Return-Path` and a
    `Delivered-To` header (the envelope) followed by the message's bytes. It is written to a
    temporary file and renamed into place, so a reader or a crash never leaves half a message,
    and sending the same key again replaces the file instead of adding a second message.
    """

    connections = 1

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @contextmanager
    def open(self) -> Iterator[OutboxSender]:
        self.folder.mkdir(parents=True, exist_ok=True)
        yield OutboxSender(self.folder)

    def delivered(self, key: str) -> bool:
        """Exact for the outbox: the file exists once the rename has happened."""
        return _outbox_path(self.folder, key).exists()

    def describe(self) -> str:
        return f"the outbox {self.folder}"


class OutboxSender:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(
        self,
        message: EmailMessage | bytes,
        *,
        sender: str,
        recipient: str,
        key: str,
        before_data: Callable[[], object] | None = None,
        meanwhile: Callable[[], object] | None = None,
    ) -> DeliveryResult:
        if before_data is not None:
            before_data()
        try:
            return self._write(message, sender, recipient, key)
        finally:
            if meanwhile is not None:
                meanwhile()

    def _write(
        self, message: EmailMessage | bytes, sender: str, recipient: str, key: str
    ) -> DeliveryResult:
        check_envelope(sender, recipient)
        path = _outbox_path(self.folder, key)
        envelope = f"Return-Path: <{sender}>\r\nDelivered-To: {recipient}\r\n".encode()
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        # the messages hold subscribers' personal data: readable by their owner only
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(envelope + message_bytes(message))
                file.flush()
                os.fsync(file.fileno())  # a rename that outlives a power cut has content
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return DeliveryResult("sent", f"written to {path}", 1)


def _outbox_path(folder: Path, key: str) -> Path:
    if not _KEY.fullmatch(key):
        raise InvalidInput(
            f"outbox key {key!r}: use letters, digits, '.', '_' and '-' (200 at most), "
            "starting with a letter or digit"
        )
    return folder / f"{key}.eml"


@dataclass(frozen=True)
class OutboxEntry:
    """One message in the outbox, as `kith outbox list` shows it."""

    file: Path
    to: str
    subject: str
    date: datetime | None
    size: int

    @property
    def key(self) -> str:
        return self.file.stem


def list_outbox(folder: Path) -> list[OutboxEntry]:
    """The outbox's messages, oldest first (an absent folder is an empty outbox).

    Only the headers are read. `to` is the envelope recipient (Delivered-To), falling back to
    the To header for a file put there by hand.
    """
    if not folder.is_dir():
        return []
    parser = BytesHeaderParser(policy=default)
    entries: list[tuple[int, OutboxEntry]] = []
    for path in folder.glob("*.eml"):
        try:
            stat = path.stat()
            with path.open("rb") as file:
                headers = parser.parse(file)
        except FileNotFoundError:  # removed while we listed
            continue
        date = headers["Date"]
        entries.append(
            (
                stat.st_mtime_ns,
                OutboxEntry(
                    file=path,
                    to=str(headers["Delivered-To"] or headers["To"] or ""),
                    subject=str(headers["Subject"] or ""),
                    date=getattr(date, "datetime", None),
                    size=stat.st_size,
                ),
            )
        )
    entries.sort(key=lambda item: (item[0], item[1].file.name))
    return [entry for _, entry in entries]
