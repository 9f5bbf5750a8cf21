"""Reading bounce messages: the DSNs of Postfix, Exim, Exchange Online and Gmail, an ARF
complaint, an out-of-office reply, garbage, a malformed and a huge message."""

from __future__ import annotations

import pytest

from kith.marketing.bounces.reading import Report, read_message
from kith.marketing.bounces.verp import ReturnPath, VerpToken
from tests.support.bounce_messages import (
    arf_report,
    exchange_ndr,
    exim_bounce,
    gmail_dsn,
    out_of_office,
    postfix_dsn,
)

KEY = b"a test installation's key"
VERP = ReturnPath("bounces@mail.example.org", KEY).sender("news@example.org", 7, 42)
TOKEN = VerpToken(7, 42)


def test_a_postfix_dsn_is_a_hard_bounce_with_its_status_and_diagnostic() -> None:
    reading = read_message(postfix_dsn(VERP, "ann@example.org"), key=KEY)

    assert (reading.kind, reading.how, reading.token) == ("hard", "dsn", TOKEN)
    [report] = reading.reports
    assert (report.address, report.kind, report.status) == ("ann@example.org", "hard", "5.1.1")
    assert report.diagnostic is not None
    assert report.diagnostic.startswith("550 5.1.1 <ann@example.org>: Recipient address rejected")
    assert reading.original_message_id == "<delivery-1@example.org>"
    assert reading.problem is None


def test_a_postfix_delay_warning_is_a_soft_bounce() -> None:
    raw = postfix_dsn(VERP, "ann@example.org", status="4.4.1", action="delayed")

    reading = read_message(raw, key=KEY)

    assert reading.kind == "soft"
    assert [(r.kind, r.status) for r in reading.reports] == [("soft", "4.4.1")]


def test_an_exim_bounce_without_a_dsn_is_read_by_flufl_bounce() -> None:
    reading = read_message(exim_bounce(VERP, "bo@example.net"), key=KEY)

    assert (reading.kind, reading.how, reading.token) == ("hard", "flufl.bounce", TOKEN)
    assert reading.reports == (
        Report(
            "bo@example.net", "hard", "5.1.1", "550 5.1.1 <bo@example.net>: mailbox unavailable"
        ),
    )


def test_an_exchange_online_ndr_is_a_hard_bounce_with_exchanges_status() -> None:
    reading = read_message(exchange_ndr(VERP, "cy@example.com"), key=KEY)

    assert (reading.kind, reading.how, reading.token) == ("hard", "dsn", TOKEN)
    [report] = reading.reports
    assert (report.address, report.status) == ("cy@example.com", "5.1.10")
    assert report.diagnostic == (
        "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"
    )
    assert reading.original_message_id == "<delivery-3@example.org>"


@pytest.mark.parametrize(
    ("over_quota", "kind", "status"), [(False, "hard", "5.1.1"), (True, "soft", "4.2.2")]
)
def test_a_gmail_dsn_is_hard_for_no_such_user_and_soft_for_a_full_mailbox(
    over_quota: bool, kind: str, status: str
) -> None:
    reading = read_message(gmail_dsn(VERP, "dee@gmail.com", over_quota=over_quota), key=KEY)

    assert (reading.kind, reading.how) == (kind, "dsn")
    [report] = reading.reports
    assert (report.address, report.kind, report.status) == ("dee@gmail.com", kind, status)
    assert report.diagnostic is not None and "https://support.google.com/mail" in report.diagnostic


def test_without_a_token_the_dsn_names_the_recipient() -> None:
    reading = read_message(postfix_dsn("bounces@mail.example.org", "ann@example.org"), key=KEY)

    assert reading.token is None
    assert [r.address for r in reading.reports] == ["ann@example.org"]


def test_the_token_of_the_smtp_envelope_is_read_when_the_headers_carry_none() -> None:
    raw = postfix_dsn("bounces@mail.example.org", "ann@example.org")

    reading = read_message(raw, key=KEY, envelope_recipients=[VERP])

    assert reading.token == TOKEN


def test_a_token_signed_with_another_key_names_nobody() -> None:
    reading = read_message(postfix_dsn(VERP, "ann@example.org"), key=b"another key")

    assert reading.token is None
    assert reading.kind == "hard"


def test_an_arf_report_is_a_complaint_found_by_the_reported_messages_return_path() -> None:
    raw = arf_report("fbl@mail.example.org", "cy@example.com", return_path=VERP)

    reading = read_message(raw, key=KEY)

    assert (reading.kind, reading.how, reading.token) == ("complaint", "arf", TOKEN)
    assert reading.reports == (Report("cy@example.com", "complaint", "abuse", None),)
    assert reading.original_message_id == "<delivery-5@example.org>"


def test_an_out_of_office_reply_is_an_auto_reply() -> None:
    reading = read_message(out_of_office(VERP, "bo@example.net"), key=KEY)

    assert (reading.kind, reading.reports, reading.token) == ("auto_reply", (), TOKEN)


def test_a_persons_reply_to_the_return_path_is_unrecognised() -> None:
    raw = (
        b"From: Bo <bo@example.net>\r\nTo: "
        + VERP.encode()
        + b"\r\nSubject: Re: Hello\r\n\r\nThanks!\r\n"
    )

    reading = read_message(raw, key=KEY)

    assert (reading.kind, reading.reports, reading.token) == ("unrecognised", (), TOKEN)


def test_a_mail_servers_message_to_a_token_without_a_status_is_a_soft_bounce() -> None:
    raw = (
        b"Return-Path: <>\r\nFrom: MAILER-DAEMON@mx.example.net\r\nTo: "
        + VERP.encode()
        + b"\r\nSubject: failure notice\r\n\r\nSorry, we were unable to deliver your message.\r\n"
    )

    reading = read_message(raw, key=KEY)

    assert (reading.kind, reading.how) == ("soft", "verp")
    assert reading.reports == (Report(None, "soft", None, None),)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe garbage \x89PNG\r\n\x1a\n" * 50,
        b"just some words without a header line\n",
    ],
)
def test_garbage_is_unrecognised_and_says_why(raw: bytes) -> None:
    reading = read_message(raw, key=KEY)

    assert reading.kind == "unrecognised"
    assert reading.reports == ()
    assert reading.problem is not None and reading.problem.startswith("malformed")


def test_a_malformed_report_is_read_as_far_as_it_goes_and_says_so() -> None:
    whole = postfix_dsn(VERP, "ann@example.org")
    # the closing boundary cut off, a part's header line without its colon
    raw = whole[: whole.rindex(b"--3F2A")].replace(
        b"Content-Description: Notification", b"Content-Description Notification"
    )

    reading = read_message(raw, key=KEY)

    assert reading.kind == "hard"
    assert reading.problem is not None and reading.problem.startswith("malformed: ")


def test_a_huge_bounce_is_read_from_its_first_bytes() -> None:
    whole = exchange_ndr(VERP, "cy@example.com")
    end = whole.rindex(b"--_000_")  # the returned message, made 5 MB long
    raw = whole[:end] + (b"y" * 998 + b"\r\n") * 5_000 + whole[end:]

    reading = read_message(raw, key=KEY, limit=100_000)

    assert len(raw) > 5_000_000
    assert (reading.kind, reading.token) == ("hard", TOKEN)
    assert reading.problem == f"{len(raw)} bytes: only the first 100000 were read"
