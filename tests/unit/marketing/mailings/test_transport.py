"""A mailing's messages are written to bytes directly (mime.header_line and
alternative_of); these check that the bytes are the ones EmailMessage gives with the SMTP
policy, header by header and part by part, but for the random MIME boundary."""

from __future__ import annotations

import re
import smtplib
from email.message import EmailMessage
from email.quoprimime import body_encode

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kith.marketing.mailings.mime import (
    PLAIN_ADDRESS,
    PLAIN_MESSAGE_ID,
    PLAIN_TEXT,
    _quoted_printable,
    alternative_of,
    encoded_part,
    header_line,
    message_bytes,
)
from kith.marketing.mailings.smtp_sender import _dot_stuffed

BOUNDARY = re.compile(rb"===============\d{19}==")
TRICKY = 'é€😀=?utf-8?q?x?= \t\r\n<>@.,;:"()[]\\'
values = st.one_of(
    st.text(max_size=60),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=1200),
    st.text(st.sampled_from(TRICKY + "ab"), max_size=80),
)
addresses = st.one_of(
    st.from_regex(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,20}@[A-Za-z0-9.-]{1,20}", fullmatch=True),
    st.builds("{}@{}".format, st.text(min_size=1, max_size=12), st.text(min_size=1, max_size=12)),
)
bodies = st.one_of(
    st.text(max_size=400),
    st.text(st.sampled_from(TRICKY + "ab"), max_size=400),
    st.builds(
        "{}\n{}".format, st.text(st.sampled_from("xy ="), min_size=70, max_size=200), st.text()
    ),
    st.text(st.sampled_from("жизнь "), min_size=50, max_size=300),
)


def by_email_package(name: str, value: str) -> bytes:
    message = EmailMessage()
    message[name] = value
    return message_bytes(message).partition(b"\r\n\r\n")[0] + b"\r\n"


@settings(max_examples=300, deadline=None)
@given(
    header=st.sampled_from(
        [
            ("Subject", PLAIN_TEXT),
            ("List-Unsubscribe", PLAIN_TEXT),
            ("From", None),
            ("To", PLAIN_ADDRESS),
            ("Message-ID", PLAIN_MESSAGE_ID),
        ]
    ),
    value=st.one_of(values, addresses, st.builds("<{}>".format, addresses)),
)
@example(header=("Subject", PLAIN_TEXT), value="\r\n")  # the package writes an empty line
def test_a_header_line_is_what_email_message_writes(
    header: tuple[str, re.Pattern[str] | None], value: str
) -> None:
    name, plain = header
    if "\r" in value or "\n" in value:  # the package lets one end a value: kith never
        with pytest.raises(ValueError, match="linefeed or carriage return"):
            header_line(name, value, plain)
        return
    try:
        expected = by_email_package(name, value)
    except Exception as error:  # a line break, or a value the parser trips on: alike
        with pytest.raises(type(error)):
            header_line(name, value, plain)
        return
    assert header_line(name, value, plain) == expected


@settings(max_examples=300, deadline=None)
@given(text=bodies, html=bodies)
def test_the_alternative_body_is_what_email_message_writes(text: str, html: str) -> None:
    message = EmailMessage()
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    expected = message_bytes(message)

    written = alternative_of(encoded_part(text), encoded_part(html))

    assert BOUNDARY.sub(b"B", written) == BOUNDARY.sub(b"B", expected)


# Quoted-printable is written by mime._quoted_printable rather than by quoprimime (whose
# translation of every character cost most of a message): the same lines, soft breaks included.
qp_lines = st.lists(
    st.lists(st.sampled_from([*list("ab= \t.é\x0b\x85"), "=3D", "€"]), max_size=90).map("".join),
    min_size=1,
    max_size=14,
)


@settings(max_examples=500, deadline=None)
@given(lines=qp_lines)
def test_quoted_printable_lines_are_quoprimimes(lines: list[str]) -> None:
    raw = [piece for line in lines for piece in line.encode("utf-8").splitlines() or [b""]]
    pieces: list[str] = []
    _quoted_printable(raw, pieces)
    body = (b"\n".join(raw) + b"\n").decode("latin-1")
    assert "\n".join([*pieces, ""]) == body_encode(body, 78)


@settings(max_examples=300, deadline=None)
@given(data=st.lists(st.sampled_from([b".", b"\r\n", b"\n", b"a", b"..", b"\r"]), max_size=12))
def test_dots_are_doubled_and_the_end_marked_as_smtplib_does(data: list[bytes]) -> None:
    message = b"".join(data)
    quoted = re.sub(rb"(?m)^\.", b"..", message)  # smtplib's _quote_periods
    quoted = quoted if quoted.endswith(b"\r\n") else quoted + b"\r\n"
    assert _dot_stuffed(message) == quoted + b".\r\n"


@settings(max_examples=300, deadline=None)
@given(address=st.from_regex(PLAIN_ADDRESS, fullmatch=True))
def test_smtplib_writes_a_plain_address_as_it_is_so_deliver_may_too(address: str) -> None:
    assert smtplib.quoteaddr(address) == f"<{address}>"
