"""The connection's side of a send: resync the mailing's community groups, and look for
automation rules in the community that would e-mail the same people (the duplicate guard)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from datetime import datetime
from itertools import islice

from sqlalchemy.orm import Session

from kith.clock import utcnow
from kith.config import Settings
from kith.connection.client import client_for
from kith.connection.jobs import wait_for
from kith.connection.sync import execute_sync, request_sync
from kith.db import Database
from kith.encryption import SecretBox
from kith.errors import KithError
from kith.marketing.ports import GroupSync, RuleOverlap

OVERLAP_BATCH = 10_000


def sync_for_send(group_name: str, *, trigger: str, now: datetime, settings: Settings) -> GroupSync:
    """Resync one group right now, in this process (a worker must not wait on its own queue),
    or wait for the sync already running for it."""
    db = Database(settings.marketing_url)
    try:
        requested = request_sync(db, group_name, trigger=trigger, now=now)
        if requested.existing:
            run = wait_for(db, requested.run.id)
        else:
            run = execute_sync(
                db,
                requested.run.id,
                box=SecretBox.from_settings(settings),
                clock=utcnow,
                empty_guard=settings.empty_guard,
            )
        return GroupSync(group_name, run.status, run.error)
    except KithError as error:  # not synced at all: inactive connection, source removed ...
        return GroupSync(group_name, "failed", str(error))
    finally:
        db.dispose()


def check_duplicates(
    session: Session, recipients_among: Callable[[Collection[str]], int], *, settings: Settings
) -> list[RuleOverlap]:
    """The community's active send_email rules that reach some of the recipients, with how many.

    Each rule's matched members are read over the API (their legacy contact keys, which are
    the recipients' Remote IDs), a batch at a time.
    """
    box = SecretBox.from_settings(settings)
    overlaps = []
    with client_for(session, box) as client:
        rules = client.get_json(
            "/automation-rules", params={"active": "true", "action": "send_email"}
        )
        for rule in rules:
            members = client.stream_ndjson(f"/automation-rules/{rule['key']}/members.ndjson")
            keys = (
                member["legacy_contact_key"].strip()
                for member in members
                if member.get("legacy_contact_key")
            )
            count = sum(recipients_among(batch) for batch in _batches(keys))
            if count:
                overlaps.append(RuleOverlap(rule["name"], rule.get("subject"), count))
    return overlaps


def _batches(keys: Iterator[str]) -> Iterator[list[str]]:
    while batch := list(islice(keys, OVERLAP_BATCH)):
        yield batch
