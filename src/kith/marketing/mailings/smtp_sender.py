"""Delivery over SMTP: one connection per sending thread, reused for the next message,
temporary refusals retried with backoff, and a server that cannot be used at all reported as
`SmtpUnavailable` (the Transport and Sender it implements: kith.marketing.mailings.transport)."""

from __future__ import annotations

import smtplib
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from email.message import EmailMessage
from typing import NamedTuple

from kith.errors import KithError
from kith.marketing.mailings.mime import PLAIN_ADDRESS, message_bytes
from kith.marketing.mailings.smtp_url import SmtpConfig
from kith.marketing.mailings.transport import DeliveryResult, check_envelope


class SmtpUnavailable(KithError):
    """The server cannot be used at all (unreachable, TLS or login refused): not one recipient's
    problem, so the job stops and can resume once the operator has fixed it."""

    http_status = 503


class _Connection(smtplib.SMTP):
    """smtplib.SMTP that remembers the server's last reply, whose text sendmail() drops."""

    last_reply: tuple[int, bytes] = (0, b"")

    def getreply(self) -> tuple[int, bytes]:
        reply = super().getreply()
        self.last_reply = reply
        return reply

    def deliver(
        self,
        sender: str,
        recipient: str,
        data: bytes,
        options: tuple[str, ...],
        hooks: _Hooks,
    ) -> None:
        """sendmail(sender, [recipient], data, mail_options=options): the same commands, and
        the same exceptions and RSET or close on a refusal; `hooks.before_data()` is called
        once the envelope is accepted and `hooks.meanwhile()` once the data is written, while
        the server takes it.

        For plain addresses (PLAIN_ADDRESS: smtplib's quoteaddr leaves them as they are) the
        commands are written directly: sendmail parses both addresses with the email package
        for every message.
        """
        if options or not (PLAIN_ADDRESS.fullmatch(sender) and PLAIN_ADDRESS.fullmatch(recipient)):
            hooks.before_data()
            self.sendmail(sender, [recipient], data, mail_options=options)
            return
        self.ehlo_or_helo_if_needed()
        size = b" size=%d" % len(data) if self.does_esmtp and self.has_extn("size") else b""
        code, reply = self._command(b"mail FROM:<%s>%s\r\n" % (sender.encode("ascii"), size))
        if code != 250:
            self._refused(code)
            raise smtplib.SMTPSenderRefused(code, reply, sender)
        code, reply = self._command(b"rcpt TO:<%s>\r\n" % recipient.encode("ascii"))
        if code not in (250, 251):
            self._refused(code)
            raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
        code, reply = self._command(b"data\r\n")
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)  # as smtplib's data(): no RSET here
        try:
            hooks.before_data()
        except BaseException:
            self.close()  # mid-DATA: only closing ends it without a message
            raise
        self.send(_dot_stuffed(data))
        hooks.meanwhile()
        code, reply = self.getreply()
        if code != 250:
            self._refused(code)
            raise smtplib.SMTPDataError(code, reply)

    def _command(self, line: bytes) -> tuple[int, bytes]:
        self.send(line)
        return self.getreply()

    def _refused(self, code: int) -> None:
        """What sendmail does on a refusal: close after 421, else RSET for the next message."""
        if code == 421:
            self.close()
            return
        with suppress(smtplib.SMTPServerDisconnected):  # as smtplib's own _rset()
            self.rset()


class _SslConnection(_Connection, smtplib.SMTP_SSL):
    """The same over implicit TLS (smtps://, port 465)."""


class SmtpTransport:
    """Delivery over SMTP; `ssl_context` replaces the system's trust store (tests' own CA)."""

    def __init__(
        self,
        config: SmtpConfig,
        *,
        ssl_context: ssl.SSLContext | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        if ssl_context is None and config.tls != "none":
            ssl_context = ssl.create_default_context()  # loads the trust store: once, not per use
        self._ssl_context = ssl_context
        self._sleep = sleep

    @property
    def connections(self) -> int:
        return self.config.connections

    @contextmanager
    def open(self) -> Iterator[SmtpSender]:
        sender = SmtpSender(self.config, self._ssl_context, self._sleep)
        try:
            yield sender
        finally:
            sender.close()

    def delivered(self, key: str) -> bool | None:
        return None  # SMTP cannot be asked whether an earlier transaction went through

    def describe(self) -> str:
        return self.config.describe()


class SmtpSender:
    """One SMTP connection, opened at the first message and reused for the next ones.

    smtplib itself sends RSET after a refused sender, recipients or data, so the connection is
    ready for the next message; after a 421 or a dropped connection it is opened again.
    """

    def __init__(
        self,
        config: SmtpConfig,
        ssl_context: ssl.SSLContext | None,
        sleep: Callable[[float], None],
    ) -> None:
        self._config = config
        self._ssl_context = ssl_context
        self._sleep = sleep
        self._connection: _Connection | None = None

    def send(
        self,
        message: EmailMessage | bytes,
        *,
        sender: str,
        recipient: str,
        key: str = "",
        before_data: Callable[[], object] | None = None,
        meanwhile: Callable[[], object] | None = None,
    ) -> DeliveryResult:
        """Deliver to one recipient, retrying temporary failures with exponential backoff.

        Raises SmtpUnavailable when no connection can be opened (see
        kith.marketing.mailings.transport).
        """
        hooks = _Hooks(_Once(before_data), _Once(meanwhile))
        try:
            return self._send(message, sender, recipient, hooks)
        finally:
            hooks.meanwhile()  # when the data was never written (a refusal, a retry)

    def _send(
        self, message: EmailMessage | bytes, sender: str, recipient: str, hooks: _Hooks
    ) -> DeliveryResult:
        check_envelope(sender, recipient)
        data = message_bytes(message)
        # an address outside ASCII needs the server's SMTPUTF8; smtplib refuses without it
        options = () if (sender + recipient).isascii() else ("SMTPUTF8",)
        attempts = 0
        reconnected = False
        while True:
            attempts += 1
            reused = self._connection is not None
            connection = self._connect()
            try:
                connection.deliver(sender, recipient, data, options, hooks)
            except smtplib.SMTPServerDisconnected as error:
                self._discard()
                if reused and not reconnected:
                    # the server closed a connection left idle: open a new one at once
                    reconnected = True
                    attempts -= 1
                    continue
                code, detail = 0, f"connection lost: {error}"
            except smtplib.SMTPRecipientsRefused as error:
                code, text = error.recipients.get(recipient, (0, b"refused"))
                detail = _reply(code, text)
            except smtplib.SMTPResponseException as error:  # sender or data refused
                code, detail = error.smtp_code, _reply(error.smtp_code, error.smtp_error)
            except smtplib.SMTPNotSupportedError as error:  # SMTPUTF8 not offered
                return DeliveryResult("failed", str(error), attempts)
            except OSError as error:  # a reset or a timeout in mid-transaction
                self._discard()
                code, detail = 0, f"connection lost: {error.__class__.__name__}: {error}"
            else:
                return DeliveryResult("sent", _reply(*connection.last_reply), attempts)
            if connection.sock is None:  # smtplib closes it on a 421
                self._discard()
            if 500 <= code < 600:
                return DeliveryResult("failed", detail, attempts)
            if attempts > self._config.retries:
                return DeliveryResult("deferred", detail, attempts)
            self._sleep(self._config.backoff_seconds * 2 ** (attempts - 1))

    def close(self) -> None:
        """QUIT politely; a server that has already gone is no error."""
        if self._connection is not None:
            with suppress(smtplib.SMTPException, OSError):
                self._connection.quit()
            self._discard()

    def _connect(self) -> _Connection:
        if self._connection is not None:
            return self._connection
        config = self._config
        for attempt in range(config.retries + 1):
            try:
                self._connection = self._open_connection()
                return self._connection
            except smtplib.SMTPAuthenticationError as error:
                raise SmtpUnavailable(
                    f"{config.describe()}: the server refused the login of "
                    f"{config.username!r}: {_reply(error.smtp_code, error.smtp_error)}"
                ) from error
            except smtplib.SMTPNotSupportedError as error:
                raise SmtpUnavailable(f"{config.describe()}: {error}") from error
            except smtplib.SMTPResponseException as error:
                if not 400 <= error.smtp_code < 500 or attempt == config.retries:
                    raise SmtpUnavailable(
                        f"{config.describe()}: the server refused the connection: "
                        f"{_reply(error.smtp_code, error.smtp_error)}"
                    ) from error
            except ssl.SSLError as error:  # a certificate or protocol problem does not pass
                raise SmtpUnavailable(f"{config.describe()}: TLS failed: {error}") from error
            except OSError as error:  # refused, reset, timed out, name not resolved
                if attempt == config.retries:
                    raise SmtpUnavailable(
                        f"{config.describe()}: cannot connect: {error.__class__.__name__}: {error}"
                    ) from error
            self._sleep(config.backoff_seconds * 2**attempt)
        raise AssertionError("unreachable")  # the last attempt raises

    def _open_connection(self) -> _Connection:
        config = self._config
        connection: _Connection
        if config.tls == "ssl":
            connection = _SslConnection(
                config.host,
                config.port,
                timeout=config.timeout_seconds,
                context=self._ssl_context,
            )
        else:
            connection = _Connection(config.host, config.port, timeout=config.timeout_seconds)
        try:
            if config.tls == "starttls":
                connection.starttls(context=self._ssl_context)
            if config.username is not None:
                connection.login(config.username, config.password or "")
        except BaseException:
            connection.close()
            raise
        return connection

    def _discard(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class _Hooks(NamedTuple):
    """What Sender.send calls on the way (see there)."""

    before_data: _Once
    meanwhile: _Once


class _Once:
    """A callable that calls `function` the first time only (or nothing, for None)."""

    def __init__(self, function: Callable[[], object] | None) -> None:
        self._function = function

    def __call__(self) -> None:
        function, self._function = self._function, None
        if function is not None:
            function()


def _dot_stuffed(data: bytes) -> bytes:
    """The message as smtplib's data() sends it: a "." starting a line doubled (RFC 5321
    4.5.2), ended by a line break and ".". smtplib finds those dots with a multi-line regular
    expression tried at every byte, which cost more than the rest of a message's sending."""
    if data.startswith(b"."):
        data = b"." + data
    if b"\n." in data:
        data = data.replace(b"\n.", b"\n..")
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = " ".join(text.split())  # multi-line replies on one line
    return f"{code} {text}" if code else text
