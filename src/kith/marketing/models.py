"""Tables of the marketing side; its own database, which nothing on the community side reads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from kith.db import NAMING_CONVENTION, BigId, UTCDateTime
from kith.erasures import ErasureColumns

SUBSCRIBER_STATUSES = ("subscribed", "unsubscribed", "bounced")
GROUP_KINDS = ("static", "community", "compound", "scoring")
COMPOUND_MODES = ("all", "any")
COMPOUND_SECTIONS = ("include", "exclude")
EDITIONS = ("online-community", "platform")
MAILING_STATUSES = ("draft", "scheduled", "sending", "sent", "held", "failed")
DELIVERY_STATUSES = ("pending", "sending", "sent", "failed", "deferred", "skipped")
DELIVERY_EVENTS = ("open", "click", "unsubscribe")
SYNC_TRIGGERS = ("manual", "on_send", "hourly", "live")
# A full sync reads the whole list; a delta applies the changes after the group's cursor.
SYNC_MODES = ("full", "delta")
SYNC_STATUSES = ("in progress", "completed", "failed", "held")
# Why a list member is not in its group, in the order a sync decides it.
SKIP_REASONS = (
    "missing_contact_key",
    "malformed_email",
    "duplicate_email",
    "no_matching_subscriber",
    "unsubscribed",
    "bounced",
    # the platform edition would create a subscriber for a person erased here (step 4)
    "erased",
)
MAIN_FOLDER = "Main"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Subscriber(Base):
    """A person mailings go to. `remote_id` is what the connection matches Legacy Contact Keys on.

    Two subscribers may share an email only when both have remote_ids (and so differ in them);
    a subscriber without a remote_id has an email no other subscriber has. `email_key` is the
    email in lower case, what uniqueness and look-ups compare.
    """

    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    email_key: Mapped[str] = mapped_column(String(320), index=True)
    remote_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    first_name: Mapped[str | None] = mapped_column(String(200))
    last_name: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="subscribed")
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # the platform edition's Personalizations: community fields and activity, from the sync
    community: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # when the status or Remote ID last changed, in SubscriberChanges' sequence: what tells the
    # connection which members of community groups to decide again
    change_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0", index=True)

    __table_args__ = (
        Index(
            "uq_subscribers_email_key_without_remote_id",
            "email_key",
            unique=True,
            sqlite_where=remote_id.is_(None),
            postgresql_where=remote_id.is_(None),
        ),
        CheckConstraint(
            "status IN ('subscribed', 'unsubscribed', 'bounced')", name="ck_subscribers_status"
        ),
    )


class Folder(Base):
    """Where target groups are filed: `Main` always exists; features add their own."""

    __tablename__ = "folders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TargetGroup(Base):
    """A group mailings and campaigns target: static, community (filled by the connection),
    compound (members computed from other groups each time they are read) or scoring (a
    grade's subscribers, kept by kith.marketing.scoring).

    `name_key` (the name in lower case) makes names unique regardless of case, because commands
    and pages name groups. The sync columns belong to community groups.
    """

    __tablename__ = "target_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200), unique=True)
    folder_id: Mapped[int] = mapped_column(ForeignKey("folders.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    include_mode: Mapped[str | None] = mapped_column(String(3))
    exclude_mode: Mapped[str | None] = mapped_column(String(3))
    list_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    list_name: Mapped[str | None] = mapped_column(String(300))  # as the last refresh read it
    source_removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sync_status: Mapped[str | None] = mapped_column(String(20))
    sync_error: Mapped[str | None] = mapped_column(Text)
    # where the community's change log of the list stood at the last sync (a delta reads on)
    list_cursor: Mapped[int | None] = mapped_column(BigInteger)
    # the subscribers' change sequence its last sync had seen (a delta decides again the members
    # whose subscribers changed after it)
    subscriber_changes_seen: Mapped[int | None] = mapped_column(BigInteger)
    # a community group follows its list's changes (kith.connection.live) unless switched to manual
    live: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(
            "kind IN ('static', 'community', 'compound', 'scoring')", name="ck_target_groups_kind"
        ),
    )


class GroupMember(Base):
    """A subscriber in a static or community group (compound groups hold no rows here)."""

    __tablename__ = "group_members"

    group_id: Mapped[int] = mapped_column(
        ForeignKey("target_groups.id", ondelete="CASCADE"), primary_key=True
    )
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)

    # SQLite stores the rows in the primary key's order: no rowid table beside it to change
    __table_args__ = ({"sqlite_with_rowid": False},)


class CompoundPart(Base):
    """A group named in a compound group's Include or Exclude section."""

    __tablename__ = "compound_parts"

    compound_id: Mapped[int] = mapped_column(
        ForeignKey("target_groups.id", ondelete="CASCADE"), primary_key=True
    )
    section: Mapped[str] = mapped_column(String(7), primary_key=True)
    part_id: Mapped[int] = mapped_column(
        ForeignKey("target_groups.id"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(SmallInteger)


class IntegrationSettings(Base):
    """Settings > System Settings > Integration Settings: the one row the connection reads.

    The password is stored encrypted (kith.encryption); nothing prints it back.
    """

    __tablename__ = "integration_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    base_url: Mapped[str] = mapped_column(String(500))
    iam_key: Mapped[str] = mapped_column(String(200))
    password_encrypted: Mapped[str] = mapped_column(Text)
    edition: Mapped[str] = mapped_column(String(20), default="online-community")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiToken(Base):
    """An admin token for the marketing REST API; only its SHA-256 digest is kept.

    Tokens are 256 random bits, so a plain digest is as safe as a slow hash and costs nothing
    per request.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SyncRun(Base):
    """One sync of a community group: who asked (trigger), how it went, and what it counted.

    At most one run per group is `in progress` (a partial unique index), which is how a second
    request finds the running one. The process carrying a run out is its `holder`
    (`host:pid:thread`), and `heartbeat_at` moves every few seconds while it runs: a run whose
    process died is taken over (kith.connection.run_lease).
    """

    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("target_groups.id", ondelete="CASCADE"))
    trigger: Mapped[str] = mapped_column(String(10))
    # `delta` asked for; `full` when the list was read in full (asked, or a delta fell back)
    mode: Mapped[str] = mapped_column(String(10), default="full", server_default="full")
    status: Mapped[str] = mapped_column(String(12))
    list_key: Mapped[str] = mapped_column(String(100))
    edition: Mapped[str] = mapped_column(String(20))
    allow_empty: Mapped[bool] = mapped_column(Boolean, default=False)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)
    holder: Mapped[str | None] = mapped_column(String(200))
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    in_list: Mapped[int | None] = mapped_column(Integer)
    members: Mapped[int | None] = mapped_column(Integer)
    added: Mapped[int | None] = mapped_column(Integer)
    removed: Mapped[int | None] = mapped_column(Integer)
    unchanged: Mapped[int | None] = mapped_column(Integer)
    created: Mapped[int | None] = mapped_column(Integer)
    linked: Mapped[int | None] = mapped_column(Integer)
    skipped: Mapped[dict[str, int] | None] = mapped_column(JSON)
    # a drift check's: the members its full read added or removed against the live membership
    drift: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_sync_runs_group_requested", "group_id", "requested_at"),
        Index(
            "uq_sync_runs_group_in_progress",
            "group_id",
            unique=True,
            sqlite_where=text("status = 'in progress'"),
            postgresql_where=text("status = 'in progress'"),
        ),
    )


class KeptMemberColumns:
    """A member of a community group's list as a sync staged and decided it
    (kith.connection.incoming): its outcome and the subscriber its legacy key matched."""

    group_id: Mapped[int] = mapped_column(
        ForeignKey("target_groups.id", ondelete="CASCADE"), primary_key=True
    )
    contact_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    legacy_contact_key: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(320))
    email_key: Mapped[str | None] = mapped_column(String(320))
    outcome: Mapped[str | None] = mapped_column(String(30))
    subscriber_id: Mapped[int | None] = mapped_column(BigInteger)
    normal_email: Mapped[str | None] = mapped_column(String(320))
    normal_key: Mapped[str | None] = mapped_column(String(320))
    first_name: Mapped[str | None] = mapped_column(String(200))
    last_name: Mapped[str | None] = mapped_column(String(200))
    profile: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Whether another member still in the running at step 3 may have the same email: false
    # only when none has. A delta looks for the members sharing a changed member's email only
    # when they may exist (kith.connection.list_mirror). Rows kept before migration m0019: true.
    email_shared: Mapped[bool] = mapped_column(Boolean, server_default=true())


def _kept_indexes(table: str) -> tuple[Index, ...]:
    """How a delta finds the members to decide again: by email, legacy key, subscriber; and
    the order the list met them in (for rejections)."""
    return tuple(
        Index(f"ix_{table}_{name}", "group_id", column)
        for name, column in (
            ("email_key", "email_key"),
            ("legacy_key", "legacy_contact_key"),
            ("subscriber", "subscriber_id"),
            ("position", "position"),
        )
    )


class CommunityListMember(KeptMemberColumns, Base):
    """A member of a community group's list as the group's last full sync kept it, unless a
    delta sync changed them since (CommunityListRecent). A delta sync decides again only the
    members that changed, from these rows, without reading the list again."""

    __tablename__ = "community_list_members"
    __table_args__ = _kept_indexes(__tablename__)


class CommunityListRecent(KeptMemberColumns, Base):
    """A member of a community group's list as a delta sync decided them since the last full
    sync, standing in for their CommunityListMember row (`gone`: they left the list). Kept
    apart so that a delta writes its rows into the few pages of a small table rather than
    rewriting rows all over the large one: at a million members, 10,000 changed rows are
    10,000 pages of each index. A full sync keeps the whole list anew and empties these."""

    __tablename__ = "community_list_recent"
    __table_args__ = _kept_indexes(__tablename__)

    gone: Mapped[bool] = mapped_column(Boolean, default=False)


class SubscriberChanges(Base):
    """One row: the last number given to a change of a subscriber's status or Remote ID
    (kith.marketing.subscriber_changes). A writer takes the next number in its transaction, so
    numbers are committed in the order they are given."""

    __tablename__ = "subscriber_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)


class SyncSkip(Base):
    """A list member a sync left out of its group, with the reason; kept for 90 days."""

    __tablename__ = "sync_skips"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("sync_runs.id", ondelete="CASCADE"), index=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("target_groups.id", ondelete="CASCADE"))
    contact_key: Mapped[str | None] = mapped_column(String(100))
    legacy_contact_key: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(String(30))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

    __table_args__ = (Index("ix_sync_skips_group_reason", "group_id", "reason"),)


class JobWorker(Base):
    """A process consuming background jobs, and when it last said it was alive.

    Commands that want a job's result (`groups sync --wait`) run it themselves when no worker
    has been seen lately, instead of waiting on a queue nobody reads.
    """

    __tablename__ = "job_workers"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Mailing(Base):
    """A message to target groups: templates for subject and body, and how its send went.

    `allow_stale`, `ack_duplicates` and `leave_out_duplicates` are the options of the last send
    request; `prepared_at` marks the moment its deliveries (one per address) were written, after
    which a resumed send only finishes them. A `scheduled` mailing is sent by the tick once
    `scheduled_for` has come.
    """

    __tablename__ = "mailings"
    __table_args__ = (Index("ix_mailings_status_scheduled_for", "status", "scheduled_for"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    from_name: Mapped[str | None] = mapped_column(String(200))
    from_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="draft")
    status_reason: Mapped[str | None] = mapped_column(Text)
    allow_stale: Mapped[bool] = mapped_column(Boolean, default=False)
    ack_duplicates: Mapped[bool] = mapped_column(Boolean, default=False)
    leave_out_duplicates: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    send_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    prepared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # a sent mailing put away: hidden from Mailings unless asked for, its deliveries and report kept
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    skipped_malformed: Mapped[int] = mapped_column(Integer, default=0)
    # the send job holding the mailing, and until when: one sender at a time, even across
    # machines; a crashed one's lease runs out and a resumed send takes over
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MailingGroup(Base):
    """A group a mailing includes or excludes."""

    __tablename__ = "mailing_groups"

    mailing_id: Mapped[int] = mapped_column(
        ForeignKey("mailings.id", ondelete="CASCADE"), primary_key=True
    )
    section: Mapped[str] = mapped_column(String(7), primary_key=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("target_groups.id"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(SmallInteger)


class Delivery(Base):
    """One message of a mailing to one address; the unique key is what makes it at most once.

    `pending` -> `sending` (claimed by a worker, `claimed_at`) -> `sent` / `failed` /
    `deferred`. A delivery left `sending` by a crash is in doubt until the resumed send
    settles it.
    """

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    mailing_id: Mapped[int] = mapped_column(ForeignKey("mailings.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="SET NULL"), index=True
    )
    email: Mapped[str] = mapped_column(String(320))
    email_key: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    detail: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(200))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("mailing_id", "email_key", name="uq_deliveries_mailing_id_email_key"),
        Index("ix_deliveries_mailing_status", "mailing_id", "status"),
    )


class DeliveryEvent(Base):
    """An open, a click (with its link) or an unsubscribe, recorded from a signed token."""

    __tablename__ = "delivery_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(12))
    url: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SmtpSettings(Base):
    """The mail server `kith mailings smtp configure` set (KITH_SMTP_URL takes precedence)."""

    __tablename__ = "smtp_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    username: Mapped[str | None] = mapped_column(String(255))
    password_encrypted: Mapped[str | None] = mapped_column(Text)
    tls: Mapped[str] = mapped_column(String(10))
    connections: Mapped[int] = mapped_column(SmallInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Erasure(ErasureColumns, Base):
    """A subscriber erased at a person's request: who erased them, when, and how many rows of
    each table went or were made anonymous; nothing of the person (kith.marketing.
    personal_data)."""

    __tablename__ = "erasures"


class ErasedPerson(Base):
    """An erased person's email key or Remote ID, as a keyed digest (kith.erasures): the
    platform edition's sync does not create them again from a community list (the outcome
    `erased`) until an admin lifts it."""

    __tablename__ = "erased_people"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # email | remote_id
    erasure_id: Mapped[int] = mapped_column(ForeignKey("erasures.id"), index=True)
