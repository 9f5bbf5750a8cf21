"""VERP sending: over a real SMTP server, each message's MAIL FROM names its mailing and
delivery with a token signed by the installation's key, and the From header stays as it was."""

from __future__ import annotations

from kith.config import Settings
from kith.db import Database
from kith.marketing.bounces.verp import VerpToken, read_token
from tests.support.bounce_world import (
    ADDRESSES,
    add_readers,
    send_to_readers,
    with_bounce_address,
)
from tests.support.smtp_sink import SmtpSink


def test_each_message_goes_out_from_a_signed_bounce_address_naming_its_delivery(
    marketing_db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    add_readers(marketing_db)

    sent = send_to_readers(marketing_db, with_bounce_address(settings), smtp_sink)

    key = settings.signing_key()
    assert sorted(sent.messages) == sorted(ADDRESSES)
    for address, message in sent.messages.items():
        assert message.sender.startswith("bounces+")
        assert message.sender.endswith("@mail.example.org")
        assert read_token(message.sender, key=key) == VerpToken(
            sent.mailing_id, sent.deliveries[address]
        )
        assert message.message["From"] == "Kith News <news@example.org>"
    assert len({message.sender for message in sent.messages.values()}) == len(ADDRESSES)


def test_without_a_bounce_address_the_envelope_sender_is_the_from_address(
    marketing_db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    add_readers(marketing_db)

    sent = send_to_readers(marketing_db, with_bounce_address(settings, None), smtp_sink)

    assert {message.sender for message in sent.messages.values()} == {"news@example.org"}


def test_a_token_is_refused_when_altered_or_signed_with_another_key(
    marketing_db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    add_readers(marketing_db)
    sent = send_to_readers(marketing_db, with_bounce_address(settings), smtp_sink)
    address = sent.messages[ADDRESSES[0]].sender
    local, _, domain = address.partition("@")
    prefix, mailing, delivery, mac = local.replace("+", "-").split("-")
    other_delivery = f"{prefix}+{mailing}-{int(delivery) + 1}-{mac}@{domain}"

    assert read_token(address.upper(), key=settings.signing_key()) is not None  # case changed
    assert read_token(other_delivery, key=settings.signing_key()) is None
    assert read_token(address, key=b"another installation's key") is None
    assert read_token("bounces@mail.example.org", key=settings.signing_key()) is None
