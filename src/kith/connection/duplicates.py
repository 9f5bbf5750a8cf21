"""The duplicate-mailing guard, the connection's part: the community's automation rules that
would e-mail some of a mailing's recipients themselves, how many of them each reaches and who
the first few are."""

from __future__ import annotations

from collections.abc import Callable, Collection

from sqlalchemy.orm import Session

from kith.config import Settings
from kith.connection.client import client_for
from kith.connection.staging import batches
from kith.encryption import SecretBox
from kith.marketing.ports import Overlapping, RuleOverlap


def check_duplicates(
    session: Session,
    recipients_among: Callable[[str, Collection[str]], Overlapping],
    *,
    settings: Settings,
) -> list[RuleOverlap]:
    """The community's active send_email rules that reach some of the recipients, with how many
    (marketing's `check_duplicates` port).

    Each rule's matched members are read over the API (their legacy contact keys, which are
    the recipients' Remote IDs), a batch at a time; the whole check within the read deadline.
    """
    overlaps = []
    box = SecretBox.from_settings(settings)
    deadline = settings.community_read_deadline_seconds
    with client_for(session, box, deadline=deadline) as client:
        rules = client.get_json(
            "/automation-rules", params={"active": "true", "action": "send_email"}
        )
        for rule in rules:
            keys = (
                member.legacy_contact_key
                for member in client.stream_rule_members(rule["key"])
                if member.legacy_contact_key
            )
            count, some = 0, tuple[str, ...]()
            for batch in batches(keys):
                found = recipients_among(rule["name"], batch)
                count, some = count + found.count, some or found.some
            if count:
                overlaps.append(RuleOverlap(rule["name"], rule.get("subject"), count, some))
    return overlaps
