"""The SMTP server's URL (KITH_SMTP_URL, `kith mailings smtp configure`):
`smtp://user:password@host:587?tls=starttls&connections=4`, `smtps://host:465`, ... read into
an SmtpConfig, where and how to deliver, with errors that never quote the password."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from kith.errors import InvalidInput

TlsMode = Literal["none", "starttls", "ssl"]

TLS_MODES: tuple[TlsMode, ...] = ("none", "starttls", "ssl")
DEFAULT_PORTS: dict[TlsMode, int] = {"none": 25, "starttls": 587, "ssl": 465}
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
