"""A bounce reaches the connection: a community group's mailing bounces for one member (a DSN
to `kith bounces serve`'s listener over SMTP), and the group's next sync counts that member
as `bounced`, one of the reasons a group is smaller than its list."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator

import pytest

from kith.clock import utcnow
from kith.config import Settings
from kith.db import Database
from kith.marketing.bounces.intake import BouncePolicy
from kith.marketing.bounces.server import BounceHandler, BounceListener
from kith.marketing.mailings.sending import SendOptions
from tests.support.bounce_messages import gmail_dsn
from tests.support.bounce_world import send_to_readers, with_bounce_address
from tests.support.connection_world import World, joined_world
from tests.support.smtp_sink import SmtpSink


@pytest.fixture
def world(community_db: Database, marketing_db: Database, settings: Settings) -> Iterator[World]:
    with joined_world(community_db, marketing_db, settings) as joined:
        yield joined


def test_the_next_sync_counts_a_member_bounced_since_the_last(
    world: World, settings: Settings, smtp_sink: SmtpSink
) -> None:
    world.members(("m1", "L1", "m1@example.org"), ("m2", "L2", "m2@example.org"))
    world.subscribers(
        ("m1@example.org", "L1", "subscribed"), ("m2@example.org", "L2", "subscribed")
    )
    world.list("Informz Posters", {"field": "contact_key", "op": "in", "value": ["m1", "m2"]})
    world.refresh()
    world.sync("Posters")
    assert world.group_remote_ids("Posters") == {"L1", "L2"}  # synced once: both are in
    # the connection's ports are not wired here: no sync on send, no duplicate check
    options = SendOptions(allow_stale=True, ack_duplicates=True)
    sent = send_to_readers(
        world.marketing,
        with_bounce_address(settings),
        smtp_sink,
        group_name="Posters",
        options=options,
    )
    return_path = sent.messages["m2@example.org"].sender
    handler = BounceHandler(world.marketing, BouncePolicy.from_settings(settings), utcnow)
    listener = BounceListener(handler, host="127.0.0.1", port=0)
    listener.start()
    try:
        with smtplib.SMTP("127.0.0.1", listener.port, timeout=10) as client:
            client.sendmail("", [return_path], gmail_dsn(return_path, "m2@example.org"))
    finally:
        listener.stop()

    run = world.sync("Posters")

    assert run.status == "completed", run.error
    assert run.skipped is not None
    assert {reason: n for reason, n in run.skipped.items() if n} == {"bounced": 1}
    assert world.group_remote_ids("Posters") == {"L1"}
