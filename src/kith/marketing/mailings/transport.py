"""Mail delivery for mailings: an SMTP server (KITH_SMTP_URL) or, by default, an outbox folder.

The sending job renders each message and hands it to a `Sender`, one per thread; it runs
`transport.connections` threads so that several SMTP connections work in parallel and each is
reused for every message its thread sends. A sender answers with a `DeliveryResult` for that
recipient: "sent", "failed" (a permanent 5xx, recorded against the recipient) or "deferred"
(4xx replies until the retries ran out: try again later). A problem of the whole transport (the
server cannot be reached, refuses TLS or the login) raises `SmtpUnavailable` instead, so the job
stops and resumes later rather than marking every recipient failed.

Every send carries a `key` chosen by the caller, unique per (mailing, address). The outbox names
its file after it, which makes a delivery to the outbox idempotent and lets `delivered(key)`
settle a message left in doubt by a crash. SMTP ignores the key and cannot answer `delivered`
(None): a server that received the final "." may have delivered a message whose "250" reply
never reached us, and SMTP offers no way to ask.

The transports are in `smtp_sender` (SmtpTransport, with its `smtp_url`) and `outbox`
(OutboxTransport); the messages' bytes are written in `mime`, and `smtp` picks the transport.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Literal, Protocol

from kith.errors import InvalidInput

DeliveryStatus = Literal["sent", "failed", "deferred"]


@dataclass(frozen=True)
class DeliveryResult:
    """What happened to one message for one recipient.

    `detail` is the server's last reply ("550 5.1.1 no such user") or what went wrong without
    one; `attempts` counts the transactions tried, retries included.
    """

    status: DeliveryStatus
    detail: str
    attempts: int


class Sender(Protocol):
    """Delivers messages one at a time; used by one thread only."""

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
        """Deliver `message` to `recipient` (the envelope, whatever its headers say).

        `message` is an EmailMessage, or bytes already rendered with CRLF line endings.
        `key` is unique per (mailing, address): the outbox's file name, ignored by SMTP.
        `before_data` is called before the message can be delivered (over SMTP: after the
        envelope, before the data; an error it raises ends the send with nothing delivered).
        `meanwhile`, which must not raise, is called once before send returns: over SMTP while
        the server takes the message (after its data, before the reply), so that the caller's
        next message is made while the server works on this one.
        """
        ...


class Transport(Protocol):
    """Where mailings are delivered; `open()` gives each sending thread its own Sender."""

    @property
    def connections(self) -> int:
        """How many Senders (threads) the job should run at once."""
        ...

    def open(self) -> AbstractContextManager[Sender]: ...

    def delivered(self, key: str) -> bool | None:
        """Whether the message sent under `key` was delivered; None when it cannot be known."""
        ...

    def describe(self) -> str:
        """Where messages go, for the operator (never with a password)."""
        ...


def check_envelope(sender: str, recipient: str) -> None:
    # a line break in an address would inject an SMTP command or a header
    if any(character in address for address in (sender, recipient) for character in "\r\n"):
        raise InvalidInput(f"envelope address with a line break: {sender!r} -> {recipient!r}")
