"""Reading one message sent to the bounce address: whose message it was about, and what it says.

Who: the VERP token of the address it was sent to (kith.marketing.bounces.verp), found in the
SMTP envelope, the outer headers (Delivered-To, X-Original-To ...) or, for an abuse report, the
reported message's own Return-Path; without one, the addresses the report names.

What, in this order:
- an ARF report (RFC 5965, `multipart/report; report-type=feedback-report`) is a complaint;
- a DSN (RFC 3464, `report-type=delivery-status`): each recipient's Action, Status and
  Diagnostic-Code; 5.x.x is a hard bounce, 4.x.x (or Action: delayed) a soft one;
- the bounces of real MTAs that are no DSN: the detectors of flufl.bounce (GNU Mailman's);
- an auto-reply (RFC 3834 `Auto-Submitted`, out-of-office and vacation headers) is ignored;
- a message to a valid token from a mail server (a null sender, MAILER-DAEMON, postmaster)
  with none of the above is a bounce without a status: soft, so that only repeated ones count;
- anything else is unrecognised: kept and listed, changing nobody.

Reading never raises on what a message contains: a message it cannot parse is unrecognised,
with the reason in `problem`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses
from typing import Literal

from flufl.bounce import all_failures

from kith.marketing.bounces.verp import VerpToken, read_token

log = logging.getLogger(__name__)
# flufl.bounce logs each detector it runs (INFO) and a detector's failure with its traceback
# (ERROR); a failure here only means that detector found nothing
logging.getLogger("flufl.bounce").setLevel(logging.CRITICAL)

Kind = Literal["hard", "soft", "complaint", "auto_reply", "unrecognised"]
KINDS: tuple[Kind, ...] = ("hard", "soft", "complaint", "auto_reply", "unrecognised")
SUBJECT_LENGTH = 300
_RANK = {"complaint": 3, "hard": 2, "soft": 1}  # a message's kind: its worst report's
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_REPLY_CODE = re.compile(r"^\s*([245])\d\d\b")
_SMTP_LINE = re.compile(r"^\s*([45]\d\d)[ -].*$", re.MULTILINE)
_TOKEN_HEADERS = ("delivered-to", "x-original-to", "envelope-to", "x-envelope-to", "to")
_DAEMON = re.compile(r"mailer-daemon|postmaster|mail delivery", re.IGNORECASE)
_OUT_OF_OFFICE = re.compile(
    r"^(out of (the )?office|automatic reply|auto(matic)?[- ]?(reply|response)|auto:|"
    r"vacation|abwesenheit|absence)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Report:
    """What a message says about one recipient: a hard or soft bounce, or a complaint."""

    address: str | None  # the recipient reported (None: only the VERP token says whom)
    kind: Kind
    status: str | None  # the enhanced status code (5.1.1), or the complaint's feedback type
    diagnostic: str | None  # the remote server's words (Diagnostic-Code, the SMTP reply)


@dataclass(frozen=True)
class Reading:
    """One message read: its kind (its worst report's), reports, and how it was told."""

    kind: Kind
    reports: tuple[Report, ...] = ()
    token: VerpToken | None = None
    original_message_id: str | None = None  # the bounced message's Message-ID, when quoted
    how: str = ""  # "arf", "dsn", "flufl.bounce", "auto-reply", "verp"
    problem: str | None = None  # why it could not be read as a whole (malformed, truncated)
    subject: str | None = None


def read_message(
    raw: bytes, *, key: bytes, envelope_recipients: Iterable[str] = (), limit: int = 1_000_000
) -> Reading:
    """What `raw` (as received) says; `envelope_recipients` are the SMTP RCPT TO addresses.

    Only the first `limit` bytes are parsed: a report's own parts come before the message
    it returns, which is what makes a bounce large.
    """
    problem = None
    if len(raw) > limit:
        problem = f"{len(raw)} bytes: only the first {limit} were read"
        raw = raw[:limit]
    try:
        message = message_from_bytes(raw)
        reading = _read(message, key, tuple(envelope_recipients))
    except Exception as error:  # the email package or a detector undone by what it was given
        return Reading("unrecognised", problem=f"malformed: {error.__class__.__name__}: {error}")
    return replace(reading, problem=problem or _malformed(message), subject=_subject(message))


def _read(message: Message, key: bytes, envelope: tuple[str, ...]) -> Reading:
    token = _token(message, key, envelope)
    original_id = _original_message_id(message)
    if _is_report(message, "feedback-report"):
        return Reading("complaint", _complaints(message), token, original_id, "arf")
    if _is_report(message, "delivery-status"):
        reports = tuple(_dsn_reports(message))
        if reports:
            return Reading(_worst(reports), reports, token, original_id, "dsn")
    reports = tuple(_detected(message))
    if reports:
        return Reading(_worst(reports), reports, token, original_id, "flufl.bounce")
    if _is_auto_reply(message):
        return Reading("auto_reply", (), token, original_id, "auto-reply")
    if token is not None and _from_a_mail_server(message):
        diagnostic = _smtp_line(_text_of(message))
        report = Report(None, "soft", _status_in(diagnostic or ""), diagnostic)
        return Reading("soft", (report,), token, original_id, "verp")
    return Reading("unrecognised", (), token, original_id)


# --- who ----------------------------------------------------------------------------------


def _token(message: Message, key: bytes, envelope: tuple[str, ...]) -> VerpToken | None:
    """The first valid VERP token of the envelope, the outer headers, then the quoted
    message's Return-Path (an ARF report goes to the abuse desk, not to the return path)."""
    for address in _token_candidates(message, envelope):
        token = read_token(address, key=key)
        if token is not None:
            return token
    return None


def _token_candidates(message: Message, envelope: tuple[str, ...]) -> Iterator[str]:
    yield from envelope
    for name in _TOKEN_HEADERS:
        yield from (str(value) for value in message.get_all(name, []))
    for part in message.walk():
        if part.get_content_type() == "message/feedback-report":
            for fields in _field_blocks(part):
                yield str(fields.get("original-mail-from", ""))
        if part.get_content_type() in ("message/rfc822", "text/rfc822-headers"):
            quoted = _quoted_headers(part)
            if quoted is not None:
                yield str(quoted.get("return-path", ""))


def _original_message_id(message: Message) -> str | None:
    for part in message.walk():
        if part.get_content_type() in ("message/rfc822", "text/rfc822-headers"):
            quoted = _quoted_headers(part)
            if quoted is not None and quoted.get("message-id"):
                return str(quoted["message-id"]).strip()
    return None


def _quoted_headers(part: Message) -> Message | None:
    """The headers of the message a report quotes (message/rfc822 or text/rfc822-headers)."""
    if part.get_content_type() == "message/rfc822":
        payload = part.get_payload()
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            return payload[0]
        return None
    text = part.get_payload(decode=True)
    return message_from_bytes(text) if isinstance(text, bytes) else None


# --- what ---------------------------------------------------------------------------------


def _is_report(message: Message, report_type: str) -> bool:
    return (
        message.get_content_type() == "multipart/report"
        and str(message.get_param("report-type", "")).lower() == report_type
    )


def _complaints(message: Message) -> tuple[Report, ...]:
    """One complaint, about the quoted message's recipient (RFC 5965 Original-Rcpt-To, else
    the quoted To); its status is the Feedback-Type (abuse, fraud ...)."""
    feedback_type, address = "abuse", None
    for part in message.walk():
        if part.get_content_type() == "message/feedback-report":
            for fields in _field_blocks(part):
                feedback_type = str(fields.get("feedback-type", feedback_type)).strip()
                address = _address(fields.get("original-rcpt-to")) or address
        elif address is None and part.get_content_type() in (
            "message/rfc822",
            "text/rfc822-headers",
        ):
            quoted = _quoted_headers(part)
            address = _address(quoted.get("to")) if quoted is not None else None
    return (Report(address, "complaint", feedback_type.lower(), None),)


def _dsn_reports(message: Message) -> Iterator[Report]:
    """A hard or soft report for each recipient of the DSN that failed or was delayed."""
    for part in message.walk():
        if part.get_content_type() not in (
            "message/delivery-status",
            "message/global-delivery-status",
        ):
            continue
        for fields in _field_blocks(part)[1:]:  # the first block is the per-message one
            action = str(fields.get("action", "")).strip().lower()
            status = _status_in(str(fields.get("status", "")))
            diagnostic = _diagnostic(fields.get("diagnostic-code"))
            kind = _kind_of(action, status, diagnostic)
            if kind is None:
                continue
            address = _address(fields.get("final-recipient")) or _address(
                fields.get("original-recipient")
            )
            yield Report(address, kind, status, diagnostic)


def _kind_of(action: str, status: str | None, diagnostic: str | None) -> Kind | None:
    if action in ("delivered", "relayed", "expanded"):
        return None
    code = status or ""
    if not code and diagnostic and (reply := _REPLY_CODE.match(diagnostic)):
        code = reply.group(1)
    if action == "delayed" or code.startswith("4"):
        return "soft"
    if code.startswith("5") or action == "failed":
        return "hard"
    return None


def _detected(message: Message) -> Iterator[Report]:
    """flufl.bounce's reading of a bounce that is no DSN (Exim's, qmail's, old Exchange's):
    which recipients failed for good or for now; the status and diagnostic from the text."""
    try:
        temporary, permanent = all_failures(message)
    except Exception as error:  # a detector tripped on what it was given: read on without it
        log.debug("flufl.bounce could not read the message: %s", error)
        return
    if not (temporary or permanent):
        return
    text = _text_of(message)
    diagnostic = _smtp_line(text)
    status = _status_in(text)
    groups: tuple[tuple[frozenset[bytes], Kind], ...] = (
        (permanent, "hard"),
        (temporary - permanent, "soft"),
    )
    for failures, kind in groups:
        for address in sorted(failures):
            yield Report(address.decode("ascii", "replace"), kind, status, diagnostic)


def _is_auto_reply(message: Message) -> bool:
    auto_submitted = str(message.get("auto-submitted", "no")).split(";")[0].strip().lower()
    if auto_submitted != "no":
        return True
    if any(message.get(name) for name in ("x-autoreply", "x-autorespond", "x-autoresponder")):
        return True
    if str(message.get("precedence", "")).strip().lower() == "auto_reply":
        return True
    return bool(_OUT_OF_OFFICE.match(str(message.get("subject", "")).strip()))


def _from_a_mail_server(message: Message) -> bool:
    return_path = str(message.get("return-path", "")).strip()
    return return_path == "<>" or bool(_DAEMON.search(str(message.get("from", ""))))


# --- fields ------------------------------------------------------------------------------


def _field_blocks(part: Message) -> list[Message]:
    """The blocks of fields of a message/delivery-status or message/feedback-report part.

    The email package parses a delivery-status part into its blocks; a feedback-report part
    (and a delivery-status part it could not split) arrives as text, parsed here as headers.
    """
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    text = part.get_payload(decode=True)
    if not isinstance(text, bytes):
        return []
    blocks = re.split(rb"\r?\n\r?\n", text.strip())
    return [message_from_bytes(block) for block in blocks if block.strip()]


def _address(value: object) -> str | None:
    """The address of `rfc822; someone@example.org` (the address type is optional)."""
    if not value:
        return None
    text = str(value)
    if ";" in text:
        text = text.split(";", 1)[1]
    found = [address for _, address in getaddresses([text.strip()]) if "@" in address]
    return found[0].strip().lower() if found else None


def _diagnostic(value: object) -> str | None:
    """`smtp; 550 5.1.1 no such user` without its type, on one line."""
    if not value:
        return None
    text = " ".join(str(value).split())
    kind, _, rest = text.partition(";")
    return (rest if rest and " " not in kind.strip() else text).strip() or None


def _status_in(text: str) -> str | None:
    found = _STATUS.search(text)
    return ".".join(found.groups()) if found else None


def _smtp_line(text: str) -> str | None:
    found = _SMTP_LINE.search(text)
    return " ".join(found.group(0).split()) if found else None


def _text_of(message: Message) -> str:
    """The message's plain text parts, decoded as best they can be."""
    texts = []
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            body = part.get_payload(decode=True)
            if isinstance(body, bytes):
                charset = part.get_content_charset() or "utf-8"
                try:
                    texts.append(body.decode(charset, "replace"))
                except LookupError:  # a charset Python does not know
                    texts.append(body.decode("utf-8", "replace"))
    return "\n".join(texts)


def _subject(message: Message) -> str | None:
    value = message.get("subject")
    if value is None:
        return None
    try:
        text = str(make_header(decode_header(str(value))))
    except (LookupError, UnicodeError, ValueError):  # an encoded word that does not decode
        text = str(value)
    return " ".join(text.split())[:SUBJECT_LENGTH] or None


def _worst(reports: tuple[Report, ...]) -> Kind:
    return max(reports, key=lambda report: _RANK.get(report.kind, 0)).kind


def _malformed(message: Message) -> str | None:
    if not message.keys():
        return "malformed: no header: not an email message"
    defects = sorted({type(defect).__name__ for part in message.walk() for defect in part.defects})
    return f"malformed: {', '.join(defects)}" if defects else None
