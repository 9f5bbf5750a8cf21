"""What a sync stages: a community list's members as rows of a temporary table, each member's
first two outcomes (no legacy key, malformed email) decided in Python as the row is made.

kith.connection.sync decides the rest in SQL; kith.connection.list_mirror keeps the staged rows
of each group's last sync so that a delta sync can stage the list again without reading it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import orjson
from sqlalchemy import JSON, BigInteger, Boolean, Column, Integer, MetaData, String, Table

from kith.connection.client import ListMember
from kith.emails import InvalidEmail, email_key, normalize_email

# The emails seen while staging, as bits (see StagedRows): 8 MiB
SEEN_BITS = 1 << 26

# Personalizations the platform edition stores on subscribers, from each member's fields.
PROFILE_FIELDS = ("company", "title", "member_type", "joined_at", "last_login_at")

INCOMING_TABLES = MetaData()


def _member_columns(key: str) -> list[Column[Any]]:
    """A staged member's columns, the one named `key` its primary key."""
    return [
        Column("position", Integer, primary_key=key == "position"),
        Column("contact_key", String(100), primary_key=key == "contact_key"),
        Column("legacy_key", String(100)),
        Column("email", String(320)),
        Column("email_key", String(320)),
        Column("outcome", String(30)),
        Column("subscriber_id", BigInteger),
        # the platform edition's, to link or create subscribers and store their Personalizations
        Column("normal_email", String(320)),
        Column("normal_key", String(320)),
        Column("first_name", String(200)),
        Column("last_name", String(200)),
        Column("profile", JSON),
    ]


Incoming = Table(
    "kith_sync_incoming", INCOMING_TABLES, *_member_columns("position"), prefixes=["TEMPORARY"]
)
# The emails more than one undecided member has (step 3 ranks only those members)
SharedEmail = Table(
    "kith_sync_shared_emails",
    INCOMING_TABLES,
    Column("email_key", String(320), primary_key=True),
    prefixes=["TEMPORARY"],
)
# The columns a staging row fills, in the order staged_row gives them
STAGED = ("position", "contact_key", "legacy_key", "email", "email_key", "outcome")
PLATFORM_STAGED = (*STAGED, "normal_email", "normal_key", "first_name", "last_name", "profile")
_EMAIL_KEY, _OUTCOME = STAGED.index("email_key"), STAGED.index("outcome")


class StagedRows:
    """A stream of members as staging rows, counted, noting the emails of undecided members
    seen before: step 3's candidates, found as the rows go by rather than by sorting the whole
    list in SQL.

    An email seen sets one bit of SEEN_BITS, chosen by its hash; an email whose bit is already
    set is noted. A collision notes an email that only one member has, which ranking then
    leaves alone (about one email in a hundred at a million members).
    """

    def __init__(self, members: Iterable[ListMember], platform: bool) -> None:
        self.members = members
        self.platform = platform
        self.count = 0
        self.shared_emails: set[str] = set()

    def rows(self) -> Iterator[tuple[Any, ...]]:
        seen = bytearray(SEEN_BITS // 8)
        for position, member in enumerate(self.members):
            row = staged_row(position, member, self.platform)
            if row[_OUTCOME] is None:
                bit = hash(row[_EMAIL_KEY]) & (SEEN_BITS - 1)
                byte, flag = bit >> 3, 1 << (bit & 7)
                if seen[byte] & flag:
                    self.shared_emails.add(row[_EMAIL_KEY])
                else:
                    seen[byte] |= flag
            self.count = position + 1
            yield row


def staged_row(position: int, member: ListMember, platform: bool) -> tuple[Any, ...]:
    """One member as a staging row (STAGED, or PLATFORM_STAGED). Its email is checked here,
    in Python, so steps 1 and 2 (no legacy key, malformed email) are decided here too."""
    legacy_key, email = member.legacy_contact_key, member.email
    normal = None
    outcome = None
    if legacy_key is None:
        outcome = "missing_contact_key"
    elif email is None:
        outcome = "malformed_email"
    else:
        try:
            normal = normalize_email(email)
        except InvalidEmail:
            outcome = "malformed_email"
    row = (
        position,
        member.contact_key,
        legacy_key,
        email,
        email_key(email) if email else None,
        outcome,
    )
    if not platform:
        return row
    return (
        *row,
        normal,
        email_key(normal) if normal else None,
        member.fields.get("first_name"),
        member.fields.get("last_name"),
        orjson.dumps(_profile(member.fields)).decode(),
    )


def _profile(member: dict[str, Any]) -> dict[str, Any]:
    """The Personalizations of the platform edition: `{{ community.thread_started_30d }}`."""
    profile: dict[str, Any] = {name: member.get(name) for name in PROFILE_FIELDS}
    profile["communities"] = member.get("communities") or []
    for name, summary in (member.get("activity") or {}).items():
        profile[name] = summary["count"]
        profile[f"{name}_30d"] = summary["count_30d"]
        profile[f"{name}_last_at"] = summary["last_at"]
    return profile


# The members a delta sync decides again (kith.connection.list_mirror): those the list's change
# feed names (`from_feed`: staged from the feed, or gone), and those staged again from the kept
# list because their subscriber changed or they share an email with another decided again
ChangedMember = Table(
    "kith_sync_changed_members",
    INCOMING_TABLES,
    Column("contact_key", String(100), primary_key=True),
    Column("from_feed", Boolean, nullable=False),
    prefixes=["TEMPORARY"],
)
# The kept rows of the members a delta decides again, as the group's last sync left them
# (kith.connection.list_mirror): read from the kept list once, then compared and counted here
KeptBefore = Table(
    "kith_sync_kept_before",
    INCOMING_TABLES,
    *_member_columns("contact_key"),
    Column("email_shared", Boolean),
    prefixes=["TEMPORARY"],
)
# The members one page of the change feed names (kith.connection.list_mirror.apply_changes)
PageMember = Table(
    "kith_sync_page_members",
    INCOMING_TABLES,
    Column("contact_key", String(100), primary_key=True),
    prefixes=["TEMPORARY"],
)
