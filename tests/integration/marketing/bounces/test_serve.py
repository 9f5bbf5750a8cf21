"""End to end: a mailing sent with VERP through a real SMTP server, then a DSN for one recipient
delivered over SMTP to `kith bounces serve` (a process of its own); the subscriber is bounced
and the mailing's report shows it. Also the listener over LMTP, and a store that fails."""

from __future__ import annotations

import os
import re
import smtplib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kith.clock import utcnow
from kith.config import Settings
from kith.db import Database
from kith.marketing.bounces.intake import BouncePolicy
from kith.marketing.bounces.server import BounceHandler, BounceListener
from kith.marketing.mailings.report import mailing_report
from kith.marketing.subscribers import find_subscriber, status_history
from tests.support.bounce_messages import postfix_dsn
from tests.support.bounce_world import add_readers, send_to_readers, with_bounce_address
from tests.support.smtp_sink import SmtpSink

SRC = Path(__file__).resolve().parents[4] / "src"


@pytest.fixture
def bounce_server(marketing_db: Database, settings: Settings, tmp_path: Path) -> Iterator[int]:
    """`kith bounces serve --port 0` on this test's database; its port."""
    environment = os.environ | {
        "KITH_MARKETING_DB_URL": marketing_db.url,
        "KITH_DATA_DIR": str(tmp_path / "var"),
        "KITH_SECRET_KEY": settings.secret_key or "",
        "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "PYTHONUNBUFFERED": "1",
        "COLUMNS": "200",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "kith", "bounces", "serve", "--port", "0"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert server.stdout is not None
        said = []
        while not (found := re.search(r"on 127\.0\.0\.1:(\d+)", said[-1] if said else "")):
            said.append(server.stdout.readline().decode())
            assert said[-1], f"kith bounces serve ended saying {''.join(said)!r}"
        yield int(found.group(1))
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_a_dsn_delivered_to_the_listener_bounces_the_subscriber_and_the_report_shows_it(
    marketing_db: Database, settings: Settings, smtp_sink: SmtpSink, bounce_server: int
) -> None:
    add_readers(marketing_db)
    sent = send_to_readers(marketing_db, with_bounce_address(settings), smtp_sink)
    return_path = sent.messages["bo@example.net"].sender

    with smtplib.SMTP("127.0.0.1", bounce_server, timeout=10) as client:
        refused = client.sendmail("", [return_path], postfix_dsn(return_path, "bo@example.net"))

    assert refused == {}
    with marketing_db.session() as session:
        subscriber = find_subscriber(session, "bo@example.net")
        [change] = status_history(session, subscriber)
        report = mailing_report(session, sent.mailing_id, now=utcnow())
    assert subscriber.status == "bounced"
    assert change["reason"] == "hard_bounce"
    assert change["evidence"]["mailing"] == sent.mailing_id
    assert report["totals"]["sent"] == 3
    assert report["totals"]["bounced"] == 1
    assert (report["totals"]["hard_bounces"], report["totals"]["soft_bounces"]) == (1, 0)
    assert report["totals"]["complaints"] == 0


def test_over_lmtp_each_recipient_gets_its_answer(
    marketing_db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    add_readers(marketing_db)
    sent = send_to_readers(marketing_db, with_bounce_address(settings), smtp_sink)
    return_path = sent.messages["ann@example.org"].sender
    handler = BounceHandler(marketing_db, BouncePolicy.from_settings(settings), utcnow, lmtp=True)
    listener = BounceListener(handler, host="127.0.0.1", port=0)
    listener.start()
    try:
        with smtplib.LMTP("127.0.0.1", listener.port, timeout=10) as client:
            client.ehlo()  # LHLO
            client.mail("")
            for recipient in (return_path, "postmaster@mail.example.org"):
                client.rcpt(recipient)
            # smtplib reads one reply after the data, as SMTP has; LMTP gives one a recipient
            replies = [client.data(postfix_dsn(return_path, "ann@example.org")), client.getreply()]
    finally:
        listener.stop()

    assert [code for code, _ in replies] == [250, 250]
    with marketing_db.session() as session:
        assert find_subscriber(session, "ann@example.org").status == "bounced"


def test_a_message_that_cannot_be_stored_gets_a_temporary_refusal(
    marketing_db: Database, settings: Settings
) -> None:
    broken = Database("sqlite:////nonexistent/directory/marketing.db")
    handler = BounceHandler(broken, BouncePolicy.from_settings(settings), utcnow)
    listener = BounceListener(handler, host="127.0.0.1", port=0)
    listener.start()
    try:
        with (
            smtplib.SMTP("127.0.0.1", listener.port, timeout=10) as client,
            pytest.raises(smtplib.SMTPDataError) as refused,
        ):
            client.sendmail(
                "",
                ["bounces@mail.example.org"],
                postfix_dsn("bounces@mail.example.org", "ann@example.org"),
            )
    finally:
        listener.stop()

    assert refused.value.smtp_code == 451
