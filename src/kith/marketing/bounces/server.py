"""`kith bounces serve`: an SMTP (or LMTP) listener the MTA forwards the bounce address to.

Each message is stored before the server answers: 250 means it is kept (and processed, or kept
as failed for `kith bounces retry`); a message that cannot be stored (the database is down) gets
a temporary 451, so that the MTA keeps it and tries again. Nothing is lost either way.

The listener accepts mail for any address (the MTA in front of it decides what reaches it);
the VERP token of the recipient address tells whose message bounced. Over LMTP (RFC 2033) the
answer after the data is one line per recipient, all the same: the message is stored once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session

from kith.db import Database
from kith.errors import describe
from kith.marketing.bounces.intake import BouncePolicy, Intake, take_in

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
MAX_MESSAGE_BYTES = 50_000_000  # larger messages are refused by the listener (552)


class BounceHandler:
    """aiosmtpd's hook: take each message in, off the event loop (the database blocks)."""

    def __init__(
        self, db: Database, policy: BouncePolicy, clock: Clock, *, lmtp: bool = False
    ) -> None:
        self.db = db
        self.policy = policy
        self.clock = clock
        self.lmtp = lmtp
        self.source = "lmtp" if lmtp else "smtp"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        recipients = list(envelope.rcpt_tos)
        loop = asyncio.get_running_loop()
        try:
            taken = await loop.run_in_executor(None, self._take_in, raw, recipients)
        except Exception as error:
            log.error(
                "a bounce message could not be stored, the MTA will retry: %s", describe(error)
            )
            reply = "451 4.3.0 the message could not be stored; try again later"
        else:
            log.info(_described(taken, recipients))
            reply = f"250 2.0.0 kept as bounce message {taken.message_id}"
        return "\r\n".join([reply] * len(recipients)) if self.lmtp else reply

    def _take_in(self, raw: bytes, recipients: list[str]) -> Intake:
        now = self.clock()
        return take_in(
            self.db, self.policy, raw, source=self.source, now=now, envelope_recipients=recipients
        )


class BounceListener(Controller):
    """The listener on `host:port` (port 0: one the system picks, then in `.port`)."""

    def __init__(self, handler: BounceHandler, *, host: str, port: int) -> None:
        super().__init__(
            handler,
            hostname=host,
            port=port,
            data_size_limit=MAX_MESSAGE_BYTES,
            server_hostname="kith-bounces",
        )
        self.lmtp = handler.lmtp

    def factory(self) -> SMTP:
        protocol = LMTP if self.lmtp else SMTP
        return protocol(self.handler, **self.SMTP_kwargs)

    def _trigger_server(self) -> None:
        # with port 0, learn the port the system picked before start() connects to check it
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


def _described(taken: Intake, recipients: list[str]) -> str:
    changes = ", ".join(f"{c.email} {c.status} ({c.reason})" for c in taken.changes)
    return (
        f"bounce message {taken.message_id} for {', '.join(recipients)}: "
        f"{'a copy of one taken in before' if taken.duplicate else taken.kind or taken.status}"
        + (f"; {changes}" if changes else "")
    )
