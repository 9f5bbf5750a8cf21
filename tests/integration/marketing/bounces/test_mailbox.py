"""The bounce mailbox against a real IMAP and POP3 server on loopback (Dovecot): messages taken
in, removed from the mailbox only once recorded, a second fetch finding nothing to change."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from kith.config import Settings
from kith.db import Database
from kith.errors import InvalidInput
from kith.marketing.bounces.intake import BouncePolicy
from kith.marketing.bounces.mailbox import (
    MailboxUnavailable,
    fetch_bounces,
    parse_mailbox_url,
)
from kith.marketing.bounces.models import BounceMailboxSettings
from kith.marketing.subscribers import find_subscriber
from tests.support.bounce_messages import out_of_office, postfix_dsn
from tests.support.bounce_world import add_readers, send_to_readers, with_bounce_address
from tests.support.cli_world import kith_command
from tests.support.community_world import NOW
from tests.support.dovecot import DovecotServer, dovecot_server  # noqa: F401  (a fixture)
from tests.support.smtp_sink import SmtpSink


@pytest.mark.parametrize("protocol", ["imaps", "pop3s"])
def test_the_mailbox_is_taken_in_and_emptied_once_recorded(
    marketing_db: Database,
    settings: Settings,
    smtp_sink: SmtpSink,
    dovecot_server: DovecotServer,  # noqa: F811
    protocol: str,
) -> None:
    add_readers(marketing_db)
    sent = send_to_readers(marketing_db, with_bounce_address(settings), smtp_sink)
    ann = sent.messages["ann@example.org"].sender
    dovecot_server.deliver(
        postfix_dsn(ann, "ann@example.org"), out_of_office(ann, "ann@example.org")
    )
    url = dovecot_server.imaps_url() if protocol == "imaps" else dovecot_server.pop3s_url()
    config = parse_mailbox_url(url)
    policy = BouncePolicy.from_settings(settings)

    taken = fetch_bounces(
        marketing_db, policy, config, clock=lambda: NOW, ssl_context=dovecot_server.client_context
    )
    again = fetch_bounces(
        marketing_db, policy, config, clock=lambda: NOW, ssl_context=dovecot_server.client_context
    )

    assert sorted(intake.kind or "" for intake in taken) == ["auto_reply", "hard"]
    assert again == []
    assert dovecot_server.inbox() == []
    with marketing_db.session() as session:
        assert find_subscriber(session, "ann@example.org").status == "bounced"


def test_a_message_already_taken_in_is_a_duplicate_when_the_mailbox_still_has_it(
    marketing_db: Database,
    settings: Settings,
    dovecot_server: DovecotServer,  # noqa: F811
) -> None:
    raw = postfix_dsn("bounces@mail.example.org", "nobody@example.org")
    config = parse_mailbox_url(dovecot_server.imaps_url())
    policy = BouncePolicy.from_settings(settings)
    context = dovecot_server.client_context
    dovecot_server.deliver(raw)
    [first] = fetch_bounces(marketing_db, policy, config, clock=lambda: NOW, ssl_context=context)
    dovecot_server.deliver(raw)  # as if the removal had been lost to a crash

    [second] = fetch_bounces(marketing_db, policy, config, clock=lambda: NOW, ssl_context=context)

    assert (second.message_id, second.duplicate) == (first.message_id, True)


def test_a_wrong_password_leaves_the_mailbox_as_it_was(
    marketing_db: Database,
    settings: Settings,
    dovecot_server: DovecotServer,  # noqa: F811
) -> None:
    dovecot_server.deliver(postfix_dsn("bounces@mail.example.org", "nobody@example.org"))
    url = dovecot_server.imaps_url().replace("mailbox-secret", "wrong")

    with pytest.raises(MailboxUnavailable, match=r"imaps://bounces@127\.0\.0\.1") as failed:
        fetch_bounces(
            marketing_db,
            BouncePolicy.from_settings(settings),
            parse_mailbox_url(url),
            clock=lambda: NOW,
            ssl_context=dovecot_server.client_context,
        )

    assert "wrong" not in str(failed.value)
    assert len(dovecot_server.inbox()) == 1


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://user:pw@host/INBOX", "it must start with imaps:// or pop3s://"),
        ("imaps://host/INBOX", "the user, password and host are needed"),
        ("pop3s://user:pw@host/Bounces", "POP3 has one mailbox"),
    ],
)
def test_a_bad_mailbox_url_is_refused_without_its_password(url: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as refused:
        parse_mailbox_url(url)

    assert ":pw" not in str(refused.value)


def test_kith_bounces_fetch_takes_the_mailbox_in(
    marketing_db: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    dovecot_server: DovecotServer,  # noqa: F811
) -> None:
    dovecot_server.deliver(out_of_office("bounces@mail.example.org", "bo@example.net"))
    monkeypatch.setenv("KITH_BOUNCE_MAILBOX_URL", dovecot_server.pop3s_url())
    monkeypatch.setenv("SSL_CERT_FILE", str(dovecot_server.cert_file))  # the system's trust

    with kith_command(monkeypatch, marketing_db, tmp_path / "var") as kith:
        code, output = kith("bounces", "fetch")

    assert code == 0, output
    assert re.search(r"bounce message \d+: auto_reply", output)
    assert f"1 message taken from pop3s://bounces@127.0.0.1:{dovecot_server.pop3s_port}" in output
    assert dovecot_server.inbox() == []


def test_a_configured_mailbox_keeps_its_password_encrypted_and_is_fetched(
    marketing_db: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    dovecot_server: DovecotServer,  # noqa: F811
) -> None:
    dovecot_server.deliver(out_of_office("bounces@mail.example.org", "bo@example.net"))
    monkeypatch.delenv("KITH_BOUNCE_MAILBOX_URL", raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", str(dovecot_server.cert_file))
    url = f"imaps://bounces@127.0.0.1:{dovecot_server.imaps_port}/INBOX"

    with kith_command(monkeypatch, marketing_db, tmp_path / "var") as kith:
        configured = kith(
            "bounces",
            "mailbox",
            "configure",
            "--url",
            url,
            "--password-stdin",
            input="mailbox-secret\n",
        )
        fetched = kith("bounces", "fetch")

    assert configured == (0, f"Bounces are taken from {url}.\n")
    assert fetched[0] == 0, fetched[1]
    assert "1 message taken from" in fetched[1]
    with marketing_db.session() as session:
        stored = session.scalars(select(BounceMailboxSettings.password_encrypted)).one()
    assert "mailbox-secret" not in stored
    assert dovecot_server.inbox() == []
