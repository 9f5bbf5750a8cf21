"""A mailing's messages as the bytes sent over the wire: CRLF line endings, header lines,
text and HTML parts as 7bit, 8bit, quoted-printable or base64. The bytes EmailMessage would
give with the SMTP policy, written without building and serialising one per recipient, which
took most of a send's time."""

from __future__ import annotations

import binascii
import random
import re
import sys
from email.message import EmailMessage
from email.policy import SMTP
from email.quoprimime import quote as quoted_byte

# Header lines may run to 998 characters (RFC 5322): folded at 78, a List-Unsubscribe URL with
# no space to break at would come out as an encoded word, which mail clients cannot use.
_WIRE = SMTP.clone(max_line_length=998)


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
