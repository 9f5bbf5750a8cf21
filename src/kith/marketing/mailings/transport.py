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

A mailing's messages are written to bytes here too (`header_line`, `alternative_of`): the
bytes EmailMessage would give with the SMTP policy, without building and serialising one per
recipient, which took most of a send's time.
"""

from __future__ import annotations

import binascii
import math
import os
import random
import re
import secrets
import smtplib
import ssl
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import SMTP, default
from email.quoprimime import quote as quoted_byte
from pathlib import Path
from typing import Literal, NamedTuple, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

from kith.errors import InvalidInput, KithError

TlsMode = Literal["none", "starttls", "ssl"]
DeliveryStatus = Literal["sent", "failed", "deferred"]

TLS_MODES: tuple[TlsMode, ...] = ("none", "starttls", "ssl")
DEFAULT_PORTS: dict[TlsMode, int] = {"none": 25, "starttls": 587, "ssl": 465}
# Header lines may run to 998 characters (RFC 5322): folded at 78, a List-Unsubscribe URL with
# no space to break at would come out as an encoded word, which mail clients cannot use.
_WIRE = SMTP.clone(max_line_length=998)
URL_FORM = "smtp://[user[:password]@]host[:port][?tls=none|starttls|ssl&connections=N&timeout=S]"
MAX_CONNECTIONS = 100


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to deliver over SMTP; `repr` leaves the password out (it ends up in logs)."""

    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: TlsMode = "none"
    connections: int = 4  # parallel connections, one per sending thread
    timeout_seconds: float = 60.0  # per network operation, not per message
    retries: int = 3  # after a temporary (4xx) reply, before the message is deferred
    backoff_seconds: float = 1.0  # the wait before the first retry; doubled for each next one

    def __post_init__(self) -> None:
        for name, value in (("user name", self.username), ("password", self.password)):
            if value is not None and not value.isascii():
                # smtplib's AUTH encodes both as ASCII; it would fail at the first login
                raise InvalidInput(f"SMTP: the {name} must be made of ASCII characters")

    def describe(self) -> str:
        """The server as a URL without the password, for messages shown to the operator."""
        user = f"{self.username}@" if self.username else ""
        return f"smtp://{user}{self.host}:{self.port}?tls={self.tls}"


def parse_smtp_url(url: str) -> SmtpConfig:
    """Read KITH_SMTP_URL: `smtp://user:password@host:587?tls=starttls`, `smtps://host:465`, ...

    The user and password are percent-decoded. Errors name the part at fault but never quote
    the password, nor any part of the URL a misplaced character may have moved it into.
    """
    split = urlsplit(url.strip())
    scheme = split.scheme.lower()
    if scheme not in ("smtp", "smtps"):
        raise InvalidInput(f"SMTP URL: it must start with smtp:// or smtps:// ({URL_FORM})")
    if "@" in split.path + split.query + split.fragment or split.path not in ("", "/"):
        # a '/', '?' or '#' in the password ends the host part early: what follows may be secret
        raise InvalidInput(
            "SMTP URL: unexpected text after the host; percent-encode '/', '?', '#' and '@' in "
            f"the user name and password (%2F, %3F, %23, %40). The form is {URL_FORM}"
        )
    if split.fragment:
        raise InvalidInput(f"SMTP URL: unexpected '#...' after the options ({URL_FORM})")
    host = split.hostname
    if not host:
        raise InvalidInput(f"SMTP URL: the host is missing ({URL_FORM})")
    try:
        port = split.port
    except ValueError:
        port = 0
    if port == 0:
        raise InvalidInput("SMTP URL: the port must be a number from 1 to 65535")
    username = unquote(split.username) if split.username else None
    password = unquote(split.password) if split.password is not None else None
    if password is not None and username is None:
        raise InvalidInput("SMTP URL: a password is given without a user name")
    options = _url_options(split.query)
    tls = _tls_option(scheme, options.pop("tls", None))
    return SmtpConfig(
        host=host,
        port=port or DEFAULT_PORTS[tls],
        username=username,
        password=password,
        tls=tls,
        connections=int(_number(options, "connections", int, 4, low=1, high=MAX_CONNECTIONS)),
        timeout_seconds=_number(options, "timeout", float, 60.0, low=0.001),
        retries=int(_number(options, "retries", int, 3, low=0, high=20)),
        backoff_seconds=_number(options, "backoff", float, 1.0, low=0.0, high=3600.0),
    )


_OPTION_NAMES = ("tls", "connections", "timeout", "retries", "backoff")


def _url_options(query: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name not in _OPTION_NAMES:
            # not quoted: a text that is no option may be a piece of a misplaced password
            raise InvalidInput(
                f"SMTP URL: an unknown option; the options are {', '.join(_OPTION_NAMES)}"
            )
        if name in options:
            raise InvalidInput(f"SMTP URL: the option {name} is given twice")
        options[name] = value
    if query and not options:
        raise InvalidInput(f"SMTP URL: the options must read name=value ({URL_FORM})")
    return options


def _tls_option(scheme: str, value: str | None) -> TlsMode:
    if value is None:
        return "ssl" if scheme == "smtps" else "none"
    for mode in TLS_MODES:
        if value.lower() == mode:
            if scheme == "smtps" and mode != "ssl":
                raise InvalidInput(
                    f"SMTP URL: smtps:// is implicit TLS, so tls={mode} contradicts it"
                )
            return mode
    raise InvalidInput(f"SMTP URL: tls must be one of {', '.join(TLS_MODES)}, not {value!r}")


def _number(
    options: dict[str, str],
    name: str,
    kind: type[int] | type[float],
    fallback: float,
    *,
    low: float,
    high: float | None = None,
) -> float:
    text = options.get(name)
    if text is None:
        return fallback
    try:
        value: float | None = kind(text)
    except ValueError:
        value = None
    if value is not None and not math.isfinite(value):
        value = None
    bounds = f"at least {low}" if high is None else f"from {low} to {high}"
    if value is None or value < low or (high is not None and value > high):
        kind_name = "a whole number" if kind is int else "a number"
        raise InvalidInput(f"SMTP URL: {name} must be {kind_name} {bounds}, not {text!r}")
    return value


@dataclass(frozen=True)
class DeliveryResult:
    """What happened to one message for one recipient.

    `detail` is the server's last reply ("550 5.1.1 no such user") or what went wrong without
    one; `attempts` counts the transactions tried, retries included.
    """

    status: DeliveryStatus
    detail: str
    attempts: int


class SmtpUnavailable(KithError):
    """The server cannot be used at all (unreachable, TLS or login refused): not one recipient's
    problem, so the job stops and can resume once the operator has fixed it."""

    http_status = 503


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


def transport_from(smtp_url: str | None, data_dir: Path) -> Transport:
    """SMTP when KITH_SMTP_URL is set, else the outbox folder under the data dir."""
    if smtp_url:
        return SmtpTransport(parse_smtp_url(smtp_url))
    return OutboxTransport(outbox_folder(data_dir))


def outbox_folder(data_dir: Path) -> Path:
    return data_dir / "outbox"


def message_bytes(message: EmailMessage | bytes) -> bytes:
    """The message as sent over the wire: CRLF line endings, as SMTP requires."""
    if isinstance(message, bytes):
        return message
    return message.as_bytes(policy=_WIRE)


# The wire form of a mailing's messages. EmailMessage parses every header into a tree and
# folds it again, and serialises through a generator: a millisecond a message. For the values
# a mailing has (plain ASCII text, dot-atom addresses) that round trip changes nothing, so
# `header_line` writes them directly; anything else (non-ASCII, encoded-word look-alikes, a
# line too long, an unusual address) goes through the email package as before.

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = rf"{_ATOM}(?:\.{_ATOM})*"
PLAIN_TEXT = re.compile(r"[!-~]+(?: [!-~]+)*")  # printable ASCII words, one space apart
PLAIN_ADDRESS = re.compile(rf"{_DOT_ATOM}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")
PLAIN_MESSAGE_ID = re.compile(rf"<{_DOT_ATOM}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*>")
_MAX_LINE = 998  # RFC 5322's limit, the one _WIRE folds at
_BODY_LINE = 78  # the default policy's, by which EmailMessage.set_content picks an encoding


def header_line(name: str, value: str, plain: re.Pattern[str] | None = PLAIN_TEXT) -> bytes:
    """`Name: value` and CRLF, exactly as EmailMessage would write it with the SMTP policy.

    `plain` is the form for which the email package leaves the value as it is (PLAIN_TEXT for
    unstructured headers, PLAIN_ADDRESS for To, PLAIN_MESSAGE_ID; None: no such form); other
    values are parsed and folded by the package (RFC 2047 words for non-ASCII text, folding
    beyond 998 characters). A line break anywhere is refused, as the package refuses one
    inside a value (it lets a value end with one, which would end the headers there).
    """
    if "\r" in value or "\n" in value:
        raise ValueError("Header values may not contain linefeed or carriage return characters")
    fits = len(name) + len(value) + 2 <= _MAX_LINE
    if plain is not None and fits and plain.fullmatch(value) and "=?" not in value:
        return f"{name}: {value}\r\n".encode("ascii")
    return _WIRE.fold_binary(*_WIRE.header_store_parse(name, value))


def alternative_of(text: tuple[bytes, bytes], html: tuple[bytes, bytes]) -> bytes:
    """The MIME headers and body of a multipart/alternative message of a text and an HTML part,
    each already encoded by `encoded_part`.

    Byte for byte what EmailMessage.set_content(text) + add_alternative(html, subtype="html")
    serialise to with the SMTP policy (the HTML part's own MIME-Version header included), but
    for the boundary, which is random there too.
    """
    text_encoding, text_body = text
    html_encoding, html_body = html
    boundary = _boundary(text, html)
    return b"".join(
        (
            b"MIME-Version: 1.0\r\n",
            b'Content-Type: multipart/alternative; boundary="%s"\r\n\r\n' % boundary,
            b"--%s\r\n" % boundary,
            b'Content-Type: text/plain; charset="utf-8"\r\n',
            b"Content-Transfer-Encoding: %s\r\n\r\n" % text_encoding,
            text_body,
            b"\r\n--%s\r\n" % boundary,
            b'Content-Type: text/html; charset="utf-8"\r\n',
            b"Content-Transfer-Encoding: %s\r\n" % html_encoding,
            b"MIME-Version: 1.0\r\n\r\n",
            html_body,
            b"\r\n--%s--\r\n" % boundary,
        )
    )


def encoded_part(text: str) -> tuple[bytes, bytes]:
    """A text part's transfer encoding and body, chosen as email.contentmanager chooses: as it
    is (7bit or 8bit) when no line exceeds 78 bytes, else quoted-printable or, when that would
    be longer for the first ten lines, base64."""
    lines = text.encode("utf-8").splitlines()
    if max(map(len, lines), default=0) <= _BODY_LINE:
        body = b"\r\n".join(lines) + b"\r\n"
        return (b"7bit" if body.isascii() else b"8bit"), body
    # the package compares the first ten lines' quoted-printable with their base64 (lengths
    # with "\n" line ends): their pieces are the first pieces of the whole body's
    pieces: list[str] = []
    _quoted_printable(lines[:10], pieces)
    sniff_bytes = sum(map(len, lines[:10])) + len(lines[:10])
    sniff_qp = sum(map(len, pieces)) + len(pieces)
    if sniff_qp > 4 * ((sniff_bytes + 2) // 3) + 1:  # len(binascii.b2a_base64(sniff))
        normal = b"\n".join(lines) + b"\n"
        chunk = _BODY_LINE // 4 * 3
        encoded = b"".join(
            binascii.b2a_base64(normal[start : start + chunk])
            for start in range(0, len(normal), chunk)
        )
        return b"base64", encoded.replace(b"\n", b"\r\n")
    _quoted_printable(lines[10:], pieces)
    pieces.append("")  # the body's last line break
    return b"quoted-printable", "\r\n".join(pieces).encode("ascii")


# quoprimime's body table (its _QUOPRI_BODY_ENCODE_MAP): printable ASCII but "=", tab and the
# line ends as they are, any other byte as =XX; and the bytes it keeps, with "=" (replaced)
_QP_TABLE = [
    chr(byte) if (32 <= byte < 127 and byte != 61) or byte in b"\t\r\n" else f"={byte:02X}"
    for byte in range(256)
]
_QP_KEPT = bytes(range(32, 127)) + b"\t\r\n"
_QP_LAST = _BODY_LINE - 1  # a piece's characters before its soft line break ("=")


def _quoted_printable(lines: list[bytes], pieces: list[str]) -> None:
    """Add the quoted-printable pieces of `lines` (UTF-8 bytes, no line ends) to `pieces`:
    the lines of quoprimime.body_encode(..., 78), each soft line break ("=" and the line end)
    ending a piece. The same steps as body_encode, but that its translation table is left for
    text that needs more than "=" encoded: the table took most of the time."""
    if not lines:
        return
    joined = b"\n".join(lines)
    body = joined.decode("latin-1")
    if joined.translate(None, _QP_KEPT):
        body = body.translate(_QP_TABLE)
    else:
        body = body.replace("=", "=3D")
    for line in body.split("\n"):
        length = len(line)
        if length <= _BODY_LINE and line[-1:] not in (" ", "\t"):
            pieces.append(line)  # most lines: nothing to break or to protect
            continue
        start = 0
        last_start = length - 1 - _BODY_LINE
        while start <= last_start:
            stop = start + _QP_LAST
            if line[stop - 2] == "=":  # not inside an escape sequence
                pieces.append(line[start : stop - 1])
                start = stop - 2
            elif line[stop - 1] == "=":
                pieces.append(line[start:stop])
                start = stop - 1
            else:
                pieces.append(line[start:stop] + "=")
                start = stop
        if line and line[-1] in " \t":  # whitespace at the end of a line must show
            room = start - last_start
            if room >= 3:
                pieces.append(line[start:-1] + quoted_byte(line[-1]))
            elif room == 2:  # the whitespace, then a soft line break before the line end
                pieces.append(line[start:] + "=")
                pieces.append("")
            else:
                pieces.append(line[start:-1] + "=")
                pieces.append(quoted_byte(line[-1]))
        else:
            pieces.append(line[start:])


def _boundary(*parts: tuple[bytes, bytes]) -> bytes:
    """A random boundary like the email package's (15 '=', 19 digits, '=='), in no part.

    Only a part sent as it is (7bit, 8bit) can hold one: quoted-printable writes '=' before two
    hex digits or a line end, base64 only at the end of a line, and never 15 in a row.
    """
    while True:
        boundary = b"===============%019d==" % random.randrange(sys.maxsize)
        if not any(boundary in body for encoding, body in parts if encoding in (b"7bit", b"8bit")):
            return boundary


def _check_envelope(sender: str, recipient: str) -> None:
    # a line break in an address would inject an SMTP command or a header
    if any(character in address for address in (sender, recipient) for character in "\r\n"):
        raise InvalidInput(f"envelope address with a line break: {sender!r} -> {recipient!r}")


# SMTP


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

        Raises SmtpUnavailable when no connection can be opened (see the module docstring).
        """
        hooks = _Hooks(_Once(before_data), _Once(meanwhile))
        try:
            return self._send(message, sender, recipient, hooks)
        finally:
            hooks.meanwhile()  # when the data was never written (a refusal, a retry)

    def _send(
        self, message: EmailMessage | bytes, sender: str, recipient: str, hooks: _Hooks
    ) -> DeliveryResult:
        _check_envelope(sender, recipient)
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


# The outbox

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
        _check_envelope(sender, recipient)
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
