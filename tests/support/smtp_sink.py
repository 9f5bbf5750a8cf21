"""A real SMTP server on loopback for tests (aiosmtpd): records what it accepts, refuses on demand.

`SmtpSink` listens on 127.0.0.1 at a port the system picks. It keeps every accepted message
(envelope, raw bytes, parsed EmailMessage, the connection it came on) and counts connections.
Tests can make it answer one recipient with a 4xx a number of times (or forever), refuse one with
a 5xx, call a callback on the Nth message before answering (to kill a sending process mid-send),
drop every open connection, require a user and password (AUTH), and speak TLS.

The `smtp_sink` fixture gives a started plain sink and stops it after the test; build an
`SmtpSink(...)` in a `with` block for AUTH or TLS.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from typing import Any, Literal

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from kith.marketing.mailings.smtp_url import SmtpConfig, TlsMode

HOST = "127.0.0.1"
Stage = Literal["rcpt", "data"]
# Called on the Nth message with what the sink received; returns None to answer as usual, or
# the reply to give instead (the message is kept only when that reply is a 2xx).
MessageCallback = Callable[["ReceivedMessage"], str | None]


@dataclass(frozen=True)
class ReceivedMessage:
    sender: str  # the envelope's MAIL FROM
    recipients: tuple[str, ...]  # the envelope's RCPT TO
    raw: bytes  # as received, without the transparency dots
    message: EmailMessage  # `raw` parsed, with "\n" line ends
    connection: int  # which connection it came on, counting from 1
    tls: bool
    login: str | None  # the user that authenticated on that connection


@dataclass
class _Refusal:
    reply: str
    stage: Stage
    times: int | None  # None: always


@dataclass
class _State:
    """What the sink's thread and the test's thread share, always under `lock`."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    messages: list[ReceivedMessage] = field(default_factory=list)
    connections: int = 0
    data_count: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    refusals: dict[str, _Refusal] = field(default_factory=dict)
    callbacks: dict[int, MessageCallback] = field(default_factory=dict)
    open_protocols: set[_SinkSMTP] = field(default_factory=set)


class _SinkSMTP(SMTP):
    """aiosmtpd's server, numbering its connections (a STARTTLS restart is the same one)."""

    def __init__(self, handler: _Handler, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.sink_state = handler.state
        self.number = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        first = self.transport is None  # aiosmtpd calls this again after STARTTLS
        super().connection_made(transport)
        if first:
            with self.sink_state.lock:
                self.sink_state.connections += 1
                self.number = self.sink_state.connections
                self.sink_state.open_protocols.add(self)

    def connection_lost(self, error: Exception | None) -> None:
        with self.sink_state.lock:
            self.sink_state.open_protocols.discard(self)
        super().connection_lost(error)


class _Handler:
    """aiosmtpd's hooks: refusals at RCPT and DATA, the Nth-message callback, the record."""

    def __init__(self, state: _State, delay: float) -> None:
        self.state = state
        self.delay = delay

    async def handle_RCPT(
        self,
        server: _SinkSMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        reply = self._refusal(address, "rcpt")
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: _SinkSMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        with self.state.lock:
            self.state.data_count += 1
            number = self.state.data_count
            callback = self.state.callbacks.pop(number, None)
            self.state.in_flight += 1
            self.state.max_in_flight = max(self.state.max_in_flight, self.state.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            received = ReceivedMessage(
                sender=envelope.mail_from or "",
                recipients=tuple(envelope.rcpt_tos),
                raw=raw,
                # parsed with \n line ends, so bodies compare with Python strings as written
                message=BytesParser(policy=default).parsebytes(raw.replace(b"\r\n", b"\n")),
                connection=server.number,
                tls=session.ssl is not None or _is_tls(server),
                login=session.auth_data if isinstance(session.auth_data, str) else None,
            )
            reply = callback(received) if callback is not None else None
            for recipient in received.recipients:
                reply = reply or self._refusal(recipient, "data")
            if reply is None or reply.startswith("2"):
                with self.state.lock:
                    self.state.messages.append(received)
            return reply or "250 OK"
        finally:
            with self.state.lock:
                self.state.in_flight -= 1

    def _refusal(self, address: str, stage: Stage) -> str | None:
        with self.state.lock:
            refusal = self.state.refusals.get(address.lower())
            if refusal is None or refusal.stage != stage or refusal.times == 0:
                return None
            if refusal.times is not None:
                refusal.times -= 1
            return refusal.reply


def _is_tls(server: _SinkSMTP) -> bool:
    transport = server.transport
    return transport is not None and transport.get_extra_info("ssl_object") is not None


class _Controller(Controller):
    """aiosmtpd's Controller on a port the system picks (port 0), making our server class."""

    def __init__(self, handler: _Handler, **kwargs: Any) -> None:
        super().__init__(handler, hostname=HOST, port=0, **kwargs)
        self.sink_handler = handler

    def factory(self) -> _SinkSMTP:
        return _SinkSMTP(self.sink_handler, **self.SMTP_kwargs)

    def _trigger_server(self) -> None:
        # start() calls this once the socket is bound: learn the port before it connects to it
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


class SmtpSink:
    """An SMTP server on 127.0.0.1 that keeps what it accepts; use it in a `with` block.

    users: require nothing but accept AUTH (PLAIN, LOGIN) for these user -> password pairs, on
    plain connections too. starttls: offer STARTTLS with this server context. implicit_tls:
    speak TLS from the first byte (smtps) with this server context. delay: seconds each message
    is held before the answer, so parallel deliveries overlap (see `max_in_flight`).
    """

    def __init__(
        self,
        *,
        users: dict[str, str] | None = None,
        starttls: ssl.SSLContext | None = None,
        implicit_tls: ssl.SSLContext | None = None,
        delay: float = 0.0,
    ) -> None:
        self._state = _State()
        self._users = users
        smtp_options: dict[str, Any] = {"server_hostname": "sink.kith.test"}
        if users is not None:
            smtp_options.update(authenticator=self._authenticate, auth_require_tls=False)
        if starttls is not None:
            smtp_options["tls_context"] = starttls
        self._controller = _Controller(
            _Handler(self._state, delay), ssl_context=implicit_tls, **smtp_options
        )
        self.tls: TlsMode = "ssl" if implicit_tls else "starttls" if starttls else "none"

    def __enter__(self) -> SmtpSink:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        self._controller.start()
        with self._state.lock:  # start() made one connection of its own to check the server
            self._state.connections = 0

    def stop(self) -> None:
        self._controller.stop()

    @property
    def host(self) -> str:
        return HOST

    @property
    def port(self) -> int:
        return int(self._controller.port)

    def url(self, user: str | None = None, password: str | None = None) -> str:
        credentials = f"{user}:{password}@" if user else ""
        return f"smtp://{credentials}{HOST}:{self.port}?tls={self.tls}"

    def config(self, **changes: Any) -> SmtpConfig:
        """Settings for kith's SmtpTransport pointing here, retrying without waiting."""
        values: dict[str, Any] = {
            "host": HOST,
            "port": self.port,
            "tls": self.tls,
            "timeout_seconds": 10.0,
            "backoff_seconds": 0.0,
        }
        return SmtpConfig(**(values | changes))

    # --- what the sink saw ---------------------------------------------------------------

    @property
    def messages(self) -> list[ReceivedMessage]:
        with self._state.lock:
            return list(self._state.messages)

    @property
    def connections(self) -> int:
        """Connections opened since the sink started."""
        with self._state.lock:
            return self._state.connections

    @property
    def max_in_flight(self) -> int:
        """The most messages the sink held at once before answering (use with `delay`)."""
        with self._state.lock:
            return self._state.max_in_flight

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedMessage]:
        """The messages once at least `count` have arrived (for senders in other processes)."""
        deadline = time.monotonic() + timeout
        while len(messages := self.messages) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"the sink got {len(messages)} messages, not {count}")
            time.sleep(0.01)
        return messages

    # --- what the sink does ----------------------------------------------------------------

    def defer(
        self,
        recipient: str,
        times: int | None = 1,
        *,
        reply: str = "451 4.3.0 try again later",
        stage: Stage = "rcpt",
    ) -> None:
        """Answer `recipient` with a 4xx `times` times (None: always), then accept it."""
        self._refuse(recipient, _Refusal(reply, stage, times))

    def reject(
        self, recipient: str, *, reply: str = "550 5.1.1 no such user", stage: Stage = "rcpt"
    ) -> None:
        """Answer `recipient` with a 5xx, always."""
        self._refuse(recipient, _Refusal(reply, stage, None))

    def on_message(self, number: int, callback: MessageCallback) -> None:
        """Call `callback` when the `number`th message (from 1) has arrived, before answering.

        It runs in the sink's thread, which answers nobody while it runs.
        """
        with self._state.lock:
            self._state.callbacks[number] = callback

    def close_connections(self) -> None:
        """Drop every open connection, as a server restarting or timing out idle clients does."""

        async def close_all() -> None:
            with self._state.lock:
                protocols = list(self._state.open_protocols)
            for protocol in protocols:
                if protocol.transport is not None:
                    protocol.transport.close()

        loop = self._controller.loop
        asyncio.run_coroutine_threadsafe(close_all(), loop).result(timeout=5)

    def _refuse(self, recipient: str, refusal: _Refusal) -> None:
        with self._state.lock:
            self._state.refusals[recipient.lower()] = refusal

    def _authenticate(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: object,
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword) and self._users is not None:
            login = auth_data.login.decode()
            if self._users.get(login) == auth_data.password.decode():
                return AuthResult(success=True, auth_data=login)
        return AuthResult(success=False, handled=False)


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A started plain SMTP sink on loopback, stopped after the test."""
    with SmtpSink() as sink:
        yield sink
