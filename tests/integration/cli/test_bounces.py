"""`kith bounces process` over a file, a directory and an mbox; `kith bounces list` and `show`;
the subscriber's record in `kith marketing subscribers show`, and reactivating them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from kith.config import Settings
from kith.db import Database
from tests.support.bounce_messages import exim_bounce, out_of_office, postfix_dsn
from tests.support.bounce_world import (
    SentMailing,
    add_readers,
    send_to_readers,
    with_bounce_address,
)
from tests.support.cli_world import KithCommand, kith_command
from tests.support.smtp_sink import SmtpSink


@pytest.fixture
def kith(
    marketing_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[KithCommand]:
    with kith_command(monkeypatch, marketing_db, tmp_path / "var") as run:
        yield run


@pytest.fixture
def sent(marketing_db: Database, tmp_path: Path, smtp_sink: SmtpSink) -> SentMailing:
    add_readers(marketing_db)
    settings = Settings(data_dir=tmp_path / "var", secret_key="cli-test")  # as `kith` runs here
    return send_to_readers(marketing_db, with_bounce_address(settings), smtp_sink)


def test_process_takes_in_a_directory_and_an_mbox_once_each(
    kith: KithCommand, sent: SentMailing, tmp_path: Path
) -> None:
    folder = tmp_path / "bounces"
    (folder / "new").mkdir(parents=True)
    ann = sent.messages["ann@example.org"].sender
    (folder / "new" / "1.eml").write_bytes(postfix_dsn(ann, "ann@example.org"))
    (folder / "new" / "2.eml").write_bytes(out_of_office(ann, "ann@example.org"))
    bo = sent.messages["bo@example.net"].sender
    mbox = tmp_path / "bounces.mbox"
    mbox.write_bytes(
        b"From MAILER-DAEMON Mon Dec  7 02:00:00 2026\n"
        + exim_bounce(bo, "bo@example.net").replace(b"\r\n", b"\n")
        + b"\nFrom someone Mon Dec  7 02:00:00 2026\nSubject: hi\n\nnot a bounce\n"
    )

    code, output = kith("bounces", "process", str(folder))
    mbox_code, mbox_output = kith("bounces", "process", str(mbox))
    again_code, again = kith("bounces", "process", str(folder))

    assert code == 0, output
    assert re.search(r"1.eml: bounce message \d+: hard; ann@example.org is now bounced", output)
    assert re.search(r"2.eml: bounce message \d+: auto_reply", output)
    assert mbox_code == 0, mbox_output
    assert re.search(r"#1: bounce message \d+: hard; bo@example.net is now bounced", mbox_output)
    assert re.search(r"#2: bounce message \d+: unrecognised", mbox_output)
    assert again_code == 0
    assert again.count("taken in before: nothing changed") == 2
    code, listed = kith("bounces", "list", "--kind", "unrecognised", "--json")
    assert [message["subject"] for message in json.loads(listed)] == ["hi"]


def test_the_subscribers_record_shows_the_bounce_and_a_reactivation(
    kith: KithCommand, sent: SentMailing, tmp_path: Path
) -> None:
    ann = sent.messages["ann@example.org"].sender
    dsn = tmp_path / "dsn.eml"
    dsn.write_bytes(postfix_dsn(ann, "ann@example.org"))
    _, processed = kith("bounces", "process", str(dsn), "--now", "2026-12-07T03:00:00Z", "--json")
    [taken] = json.loads(processed)

    kith("marketing", "subscribers", "set-status", "ann@example.org", "--status", "subscribed")
    code, record = kith("marketing", "subscribers", "show", "ann@example.org")
    shown_code, shown = kith("bounces", "show", str(taken["message"]))

    assert code == 0, record
    assert "status: subscribed" in record
    assert (
        f"subscribed -> bounced (hard_bounce): mailing {sent.mailing_id}, 5.1.1, 550 5.1.1 "
        "<ann@example.org>: Recipient address rejected" in record
    )
    assert "bounced -> subscribed (marketer)" in record
    assert shown_code == 0
    assert "kind: hard" in shown and "how: dsn" in shown
    assert f"- ann@example.org: hard 5.1.1 (mailing {sent.mailing_id})" in shown
