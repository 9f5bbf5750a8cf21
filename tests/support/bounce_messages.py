"""Bounce messages as real mail systems shape them, written here from RFC 3464 (DSN), RFC 5965
(ARF), RFC 3834 (auto-replies) and the documented forms of Postfix's bounce(8), Exim's
bounce text, Microsoft Exchange Online's NDRs and Gmail's DSNs. None is a copied file: the
addresses, hosts and texts are made up, the structure and the fields are each system's own.

Each function takes the address the bounce is sent to (`to`: a VERP return path, or a plain
bounce address) and the recipient whose delivery failed, and returns the message's bytes with
CRLF line ends, as an MTA hands it over.
"""

from __future__ import annotations

DATE = "Mon, 07 Dec 2026 02:00:00 +0000"


def _crlf(text: str) -> bytes:
    return text.lstrip("\n").replace("\n", "\r\n").encode()


def _original_headers(return_path: str, recipient: str, message_id: str) -> str:
    return f"""Return-Path: <{return_path}>
From: Kith News <news@example.org>
To: {recipient}
Subject: Hello
Date: {DATE}
Message-ID: {message_id}
MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"
"""


def postfix_dsn(
    to: str,
    recipient: str,
    *,
    status: str = "5.1.1",
    action: str = "failed",
    message_id: str = "<delivery-1@example.org>",
) -> bytes:
    """Postfix's bounce(8): a null sender, the Notification, Delivery report and Undelivered
    Message Headers parts, Postfix's X-Postfix-* fields in the per-message block."""
    code = "550" if status.startswith("5") else "452"
    return _crlf(f"""
Return-Path: <>
Delivered-To: {to}
Received: by mail.example.org (Postfix) id 3F2A61C0123; {DATE}
Date: {DATE}
From: MAILER-DAEMON@mail.example.org (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: {to}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="3F2A61C0123.1796608800/mail.example.org"
Content-Transfer-Encoding: 7bit
Message-Id: <20261207020000.3F2A61C0124@mail.example.org>

This is a MIME-encapsulated message.

--3F2A61C0123.1796608800/mail.example.org
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mail.example.org.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

For further assistance, please send mail to postmaster.

If you do so, please include this problem report. You can
delete your own text from the attached returned message.

                   The mail system

<{recipient}>: host mx.example.net[192.0.2.25] said: {code} {status}
    <{recipient}>: Recipient address rejected: User unknown in local
    recipient table (in reply to RCPT TO command)

--3F2A61C0123.1796608800/mail.example.org
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.example.org
X-Postfix-Queue-ID: 3F2A61C0123
X-Postfix-Sender: rfc822; {to}
Arrival-Date: {DATE}

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: {action}
Status: {status}
Remote-MTA: dns; mx.example.net
Diagnostic-Code: smtp; {code} {status} <{recipient}>: Recipient address rejected:
    User unknown in local recipient table

--3F2A61C0123.1796608800/mail.example.org
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

{_original_headers(to, recipient, message_id)}
--3F2A61C0123.1796608800/mail.example.org--
""")


def exim_bounce(to: str, recipient: str) -> bytes:
    """Exim's own bounce text (no DSN): X-Failed-Recipients, the failed address with the remote
    server's reply, then the returned message after Exim's dashed line."""
    return _crlf(f"""
Return-path: <>
Envelope-to: {to}
Received: from Debian-exim by mx.example.net with local (Exim 4.96) id 1tJw3x-0001Ab-2C
\tfor {to}; {DATE}
X-Failed-Recipients: {recipient}
Auto-Submitted: auto-replied
From: Mail Delivery System <Mailer-Daemon@mx.example.net>
To: {to}
Content-Type: text/plain; charset=us-ascii
Subject: Mail delivery failed: returning message to sender
Message-Id: <E1tJw3x-0001Ab-2C@mx.example.net>
Date: {DATE}

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  {recipient}
    host mail.example.net [192.0.2.26]
    SMTP error from remote mail server after RCPT TO:<{recipient}>:
    550 5.1.1 <{recipient}>: mailbox unavailable

------ This is a copy of the message, including all the headers. ------

{_original_headers(to, recipient, "<delivery-2@example.org>")}
Hello
""")


def exchange_ndr(to: str, recipient: str) -> bytes:
    """Exchange Online's NDR: "Undeliverable:", X-MS-Exchange-Message-Is-Ndr, a text and HTML
    explanation, the delivery-status part with Exchange's `dns;` and `smtp;` without spaces
    and its 5.1.10 RecipientNotFound, then the original message."""
    user = recipient.split("@")[0]
    domain = recipient.split("@")[1]
    return _crlf(f"""
Received: from DM6PR01MB1234.namprd01.prod.outlook.com by mx.example.org; {DATE}
From: Microsoft Outlook
\t<MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@example.onmicrosoft.com>
To: <{to}>
Date: {DATE}
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="_000_DM6PR01MB1234DEADBEEF_"
MIME-Version: 1.0
Message-ID: <9b2d1e8c-0000-4a5b-8c3d-NDR@DM6PR01MB1234.namprd01.prod.outlook.com>
Subject: Undeliverable: Hello
Auto-Submitted: auto-replied
X-MS-Exchange-Message-Is-Ndr:
Content-Language: en-US

--_000_DM6PR01MB1234DEADBEEF_
Content-Type: multipart/alternative; differences=Content-Type;
\tboundary="_002_DM6PR01MB1234ALT_"

--_002_DM6PR01MB1234ALT_
Content-Type: text/plain; charset="us-ascii"

Your message to {recipient} couldn't be delivered.
{user} wasn't found at {domain}.

Action Required: Recipient
Unknown To address

How to Fix It
The address may be misspelled or may not exist.

Diagnostic information for administrators:
Generating server: DM6PR01MB1234.namprd01.prod.outlook.com
{recipient}
Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by
SMTP address lookup'

--_002_DM6PR01MB1234ALT_
Content-Type: text/html; charset="us-ascii"

<html><body><p>Your message to {recipient} couldn't be delivered.</p></body></html>

--_002_DM6PR01MB1234ALT_--

--_000_DM6PR01MB1234DEADBEEF_
Content-Type: message/delivery-status

Reporting-MTA: dns;DM6PR01MB1234.namprd01.prod.outlook.com
Received-From-MTA: dns;mail.example.org
Arrival-Date: {DATE}

Final-Recipient: rfc822;{recipient}
Action: failed
Status: 5.1.10
Diagnostic-Code: smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP
 address lookup

--_000_DM6PR01MB1234DEADBEEF_
Content-Type: message/rfc822

{_original_headers(to, recipient, "<delivery-3@example.org>")}
Hello

--_000_DM6PR01MB1234DEADBEEF_--
""")


def gmail_dsn(to: str, recipient: str, *, over_quota: bool = False) -> bytes:
    """Gmail's "Delivery Status Notification (Failure)": X-Failed-Recipients, a related HTML
    part, the delivery-status part whose Diagnostic-Code runs over "550-5.1.1" lines, and the
    original message; `over_quota` is the 4.2.2 mailbox-full failure it gives up on."""
    status, code = ("4.2.2", "452") if over_quota else ("5.1.1", "550")
    reason = (
        "The recipient's inbox is out of storage space."
        if over_quota
        else "The email account that you tried to reach does not exist."
    )
    return _crlf(f"""
Return-Path: <>
Delivered-To: {to}
Received: by 2002:a05:6402:1234:b0:5c8:0:0 with SMTP id abc123; {DATE}
From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
To: {to}
Auto-Submitted: auto-replied
Subject: Delivery Status Notification (Failure)
Message-ID: <6754a1b0.050a0220.1234.abcdGMR@mx.google.com>
Date: {DATE}
X-Failed-Recipients: {recipient}
MIME-Version: 1.0
Content-Type: multipart/report; boundary="000000000000c0ffee0123456789"; report-type=delivery-status

--000000000000c0ffee0123456789
Content-Type: multipart/related; boundary="000000000000c0ffee0123456790"

--000000000000c0ffee0123456790
Content-Type: text/html; charset="UTF-8"

<html><body><h2>Address not found</h2><p>Your message wasn't delivered to
<a style=3D'color:#212121'>{recipient}</a>. {reason}</p></body></html>

--000000000000c0ffee0123456790--

--000000000000c0ffee0123456789
Content-Type: message/delivery-status

Reporting-MTA: dns; googlemail.com
Received-From-MTA: dns; news@example.org
Arrival-Date: {DATE}
X-Original-Message-ID: <delivery-4@example.org>

Final-Recipient: rfc822; {recipient}
Action: failed
Status: {status}
Remote-MTA: dns; gmail-smtp-in.l.google.com. (2a00:1450:400c:c0b::1b, the server for the domain
 gmail.com.)
Diagnostic-Code: smtp; {code}-{status} {reason} Please try
 {code}-{status} double-checking the recipient's email address for typos or
 {code}-{status} unnecessary spaces. For more information, go to
 {code} {status}  https://support.google.com/mail/?p=NoSuchUser a1si123456 - gsmtp
Last-Attempt-Date: {DATE}

--000000000000c0ffee0123456789
Content-Type: message/rfc822

{_original_headers(to, recipient, "<delivery-4@example.org>")}
Hello

--000000000000c0ffee0123456789--
""")


def arf_report(to: str, recipient: str, *, return_path: str) -> bytes:
    """An abuse report (RFC 5965): the human part, the machine-readable feedback report with
    Original-Mail-From (the VERP return path) and Original-Rcpt-To, and the reported message."""
    return _crlf(f"""
From: <fbl@isp.example.net>
Date: {DATE}
Subject: FW: Hello
To: <{to}>
MIME-Version: 1.0
Message-ID: <fbl-2026-12-07-0001@isp.example.net>
Content-Type: multipart/report; report-type=feedback-report;
\tboundary="part1_13d.2e68ed54_boundary"

--part1_13d.2e68ed54_boundary
Content-Type: text/plain; charset="US-ASCII"
Content-Transfer-Encoding: 7bit

This is an email abuse report for an email message received from IP
192.0.2.1 on {DATE}. For more information about this format please see
http://www.mipassoc.org/arf/.

--part1_13d.2e68ed54_boundary
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: SomeGenerator/1.0
Version: 1
Original-Mail-From: <{return_path}>
Original-Rcpt-To: <{recipient}>
Arrival-Date: {DATE}
Reported-Domain: example.org
Source-IP: 192.0.2.1

--part1_13d.2e68ed54_boundary
Content-Type: message/rfc822
Content-Disposition: inline

{_original_headers(return_path, recipient, "<delivery-5@example.org>")}
Hello

--part1_13d.2e68ed54_boundary--
""")


def out_of_office(to: str, sender: str) -> bytes:
    """An out-of-office reply as RFC 3834 asks it to be sent: to the return path, marked
    Auto-Submitted: auto-replied (Exchange's X-Auto-Response-Suppress and subject too)."""
    return _crlf(f"""
Return-Path: <{sender}>
From: Bo <{sender}>
To: {to}
Subject: Automatic reply: Hello
Date: {DATE}
Message-ID: <ooo-1@example.net>
Auto-Submitted: auto-replied
X-Auto-Response-Suppress: All
In-Reply-To: <delivery-6@example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"

I am out of the office until Monday 14 December, with no access to email.
For anything urgent please call the front desk.
""")
