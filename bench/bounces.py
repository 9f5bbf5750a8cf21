"""Issue 19's bounce benchmark: messages to the bounce address taken in per second (each stored,
read and applied, as `kith bounces process` does) next to a floor measured in the same run:
parsing alone, the same messages through the standard library's `email` package.

    .venv/bin/python -m bench.bounces [--messages 5000] [--out FILE]

Off the clock, the run builds a fresh SQLite marketing database under bench/out/, with N
subscribers, a mailing and one sent delivery each, and writes N bounce messages of the shapes
the tests use (tests/support/bounce_messages.py): Postfix, Exchange Online and Gmail DSNs, Exim
bounces, ARF complaints and out-of-office replies, each to its delivery's VERP return path.
On the clock:
- floor: `email.message_from_bytes` of every message;
- kith: `take_in_batch` of the messages, BATCH at a time as `kith bounces process` takes
  files (a transaction to store them, one to read and apply them, a savepoint each).
The run exits 1 unless every message was processed. Target (issue 19): at least 1,000/s.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from time import perf_counter

from bench.machine import describe

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"
NOW = datetime(2026, 12, 1, tzinfo=UTC)
SECRET = b"bench-bounces-signing-key"
BOUNCE_ADDRESS = "bounces@mail.example.org"
TARGET_RATE = 1_000


def main(argv: list[str] | None = None) -> None:
    arguments = parse_arguments(argv)
    sys.path.insert(0, str(REPO))  # the message shapes live with the tests
    url = prepare(arguments.messages)
    messages = bounce_messages(url)
    floor = time_floor(messages)
    kith, processed = time_kith(url, messages)
    figure = {
        "benchmark": "bounces",
        "messages": len(messages),
        "bytes": sum(map(len, messages)),
        "floor_per_second": round(len(messages) / floor),
        "kith_per_second": round(len(messages) / kith),
        "kith_seconds": round(kith, 3),
        "floor_seconds": round(floor, 3),
        "ratio_to_floor": round(floor / kith, 3),
        "target_per_second": TARGET_RATE,
        "processed": processed,
        "machine": describe(None),
    }
    print(json.dumps({k: v for k, v in figure.items() if k != "machine"}, indent=2))
    if arguments.out:
        Path(arguments.out).write_text(json.dumps(figure, indent=2) + "\n")
    if processed != len(messages):
        raise SystemExit(f"{len(messages) - processed} messages were not processed")


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=5_000)
    parser.add_argument("--out", help="Write the figure (JSON) to this file too.")
    return parser.parse_args(argv)


def prepare(count: int) -> str:
    """A migrated SQLite database with `count` subscribers, each sent one message."""
    from sqlalchemy import insert

    from kith.db import Database
    from kith.marketing.groups.target_groups import create_group
    from kith.marketing.mailings.definition import MailingDraft, create_mailing
    from kith.marketing.models import Delivery, Subscriber
    from kith.migrate import upgrade

    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "bounces.db"
    for stale in OUT.glob("bounces.db*"):
        stale.unlink()
    url = f"sqlite:///{path}"
    db = Database(url)
    upgrade(db, "marketing")
    with db.bulk_transaction() as session:
        session.execute(
            insert(Subscriber),
            [
                {
                    "id": n,
                    "email": f"reader{n}@example.net",
                    "email_key": f"reader{n}@example.net",
                    "remote_id": f"R{n}",
                    "status": "subscribed",
                    "fields": {},
                    "source": "import",
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for n in range(1, count + 1)
            ],
        )
        create_group(session, "Bench readers", now=NOW)
        draft = MailingDraft(
            name="Bench", subject="Hello", html="<p>Hello</p>", include=["Bench readers"]
        )
        mailing = create_mailing(session, draft, now=NOW)
        mailing.status = "sent"
        session.execute(
            insert(Delivery),
            [
                {
                    "id": n,
                    "mailing_id": mailing.id,
                    "subscriber_id": n,
                    "email": f"reader{n}@example.net",
                    "email_key": f"reader{n}@example.net",
                    "status": "sent",
                    "attempts": 1,
                    "message_id": f"<delivery-{n}@example.org>",
                    "sent_at": NOW,
                }
                for n in range(1, count + 1)
            ],
        )
    db.dispose()
    return url


def bounce_messages(url: str) -> list[bytes]:
    """One message a delivery, cycling through the shapes, each to its VERP return path."""
    from kith.db import Database
    from kith.marketing.bounces.verp import ReturnPath
    from kith.marketing.models import Delivery
    from tests.support import bounce_messages as shapes

    db = Database(url)
    with db.session() as session:
        deliveries = session.query(Delivery.id, Delivery.mailing_id, Delivery.email).all()
    db.dispose()
    paths = ReturnPath(BOUNCE_ADDRESS, SECRET)
    makers = [
        lambda to, who: shapes.postfix_dsn(to, who),
        lambda to, who: shapes.exchange_ndr(to, who),
        lambda to, who: shapes.gmail_dsn(to, who, over_quota=True),
        lambda to, who: shapes.exim_bounce(to, who),
        lambda to, who: shapes.arf_report(BOUNCE_ADDRESS, who, return_path=to),
        lambda to, who: shapes.out_of_office(to, who),
    ]
    return [
        makers[n % len(makers)](paths.sender("news@example.org", mailing_id, delivery_id), email)
        for n, (delivery_id, mailing_id, email) in enumerate(deliveries)
    ]


def time_floor(messages: list[bytes]) -> float:
    started = perf_counter()
    for raw in messages:
        message_from_bytes(raw)
    return perf_counter() - started


def time_kith(url: str, messages: list[bytes]) -> tuple[float, int]:
    from kith.db import Database
    from kith.marketing.bounces.intake import BATCH, Arrival, BouncePolicy, take_in_batch

    db = Database(url)
    policy = BouncePolicy(SECRET)
    processed = 0
    started = perf_counter()
    for start in range(0, len(messages), BATCH):  # as `kith bounces process` takes files in
        arrivals = [Arrival(raw, "file") for raw in messages[start : start + BATCH]]
        taken = take_in_batch(db, policy, arrivals, now=NOW + timedelta(seconds=start))
        processed += sum(intake.status == "processed" for intake in taken)
    seconds = perf_counter() - started
    db.dispose()
    return seconds, processed


if __name__ == "__main__":
    main()
