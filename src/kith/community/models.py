"""Tables of the community side; its own database, which nothing on the marketing side reads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from kith.db import NAMING_CONVENTION, BigId, UTCDateTime
from kith.erasures import ErasureColumns
from kith.throttling import FailureColumns

BUILTIN_ACTIVITY_TYPES = (
    "login",
    "thread_started",
    "discussion_reply",
    "library_entry",
    "event_registration",
    "event_attended",
    "badge_awarded",
    "profile_completed",
)

# A member's standard fields by kind, in the order of the members CSV; anything else a member
# carries is a custom field.
MEMBER_TEXT_FIELDS = (
    "contact_key",
    "legacy_contact_key",
    "email",
    "first_name",
    "last_name",
    "company",
    "title",
    "member_type",
)
MEMBER_DATE_FIELDS = ("joined_at", "last_login_at")
MEMBER_BOOLEAN_FIELDS = ("is_super_admin",)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Member(Base):
    """A person in the community. `legacy_contact_key` is the AMS id the connection matches on."""

    __tablename__ = "members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_key: Mapped[str] = mapped_column(String(100), unique=True)
    legacy_contact_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    first_name: Mapped[str | None] = mapped_column(String(200))
    last_name: Mapped[str | None] = mapped_column(String(200))
    company: Mapped[str | None] = mapped_column(String(300))
    title: Mapped[str | None] = mapped_column(String(300))
    member_type: Mapped[str | None] = mapped_column(String(100))
    joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    is_super_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (Index("ix_members_email_lower", func.lower(email)),)


class CustomField(Base):
    """A custom member field seen in an import; List Builder offers and validates these names."""

    __tablename__ = "custom_fields"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)


class Community(Base):
    __tablename__ = "communities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("uq_communities_name_lower", func.lower(name), unique=True),)


class Membership(Base):
    __tablename__ = "memberships"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id"), primary_key=True, index=True
    )
    role: Mapped[str | None] = mapped_column(String(100))
    joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ActivityType(Base):
    __tablename__ = "activity_types"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)


class ActivityEvent(Base):
    """One thing a member did; an `event_id` from the source makes re-imports idempotent."""

    __tablename__ = "activity_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    type_id: Mapped[int] = mapped_column(ForeignKey("activity_types.id"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id"))

    __table_args__ = (
        # a member's timeline, the per-member activity summaries, and per-member counts in
        # a window (List Builder's negative tests: "no activity in 90 days")
        Index("ix_activity_events_member", "member_id", "occurred_at", "type_id"),
        # List Builder: who did this type in this window (covering, so no table lookups)
        Index("ix_activity_events_type_time", "type_id", "occurred_at", "member_id"),
    )


class CustomUserList(Base):
    """A List Builder list: a named criteria tree, its members kept current (kith.community.
    live_lists): `evaluated_at` is the instant they were last brought up to date (None: they
    must be evaluated in full, as after an edit of the criteria), `materialized_at` when they
    were first; changes up to `changes_pruned_through` are no longer kept."""

    __tablename__ = "custom_user_lists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    list_key: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    criteria: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    evaluated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    materialized_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    changes_pruned_through: Mapped[int] = mapped_column(BigId, default=0, server_default="0")

    __table_args__ = (Index("uq_custom_user_lists_name_lower", func.lower(name), unique=True),)


class ListMember(Base):
    """A member a list holds now, with the keys and email it was taken in with: a change of
    those is logged as the member leaving with the old ones and coming back with the new."""

    __tablename__ = "list_members"

    list_id: Mapped[int] = mapped_column(
        ForeignKey("custom_user_lists.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(Integer, primary_key=True)  # may outlive the member
    contact_key: Mapped[str | None] = mapped_column(String(100))
    legacy_contact_key: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(320))


class ListChange(Base):
    """A list's change log: `seq` increases across all lists; a reader's cursor is a seq."""

    __tablename__ = "list_changes"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("custom_user_lists.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(Integer)
    change: Mapped[str] = mapped_column(String(10))  # added | removed
    contact_key: Mapped[str | None] = mapped_column(String(100))
    legacy_contact_key: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(320))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

    __table_args__ = (
        CheckConstraint("change IN ('added', 'removed')", name="change"),
        Index("ix_list_changes_list_seq", "list_id", "seq"),
        # a seq is never given twice, even once every change was pruned (migration 0007)
        {"sqlite_autoincrement": True},
    )


class MemberChange(Base):
    """A member whose record, memberships or activity changed since the lists were last kept
    up to date: written by triggers (whoever writes), read and emptied by each pass.

    `aspect`: 1 the member's record, 2 their memberships, 3 their activity (`detail`: the type).
    """

    __tablename__ = "member_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(Integer)
    aspect: Mapped[int] = mapped_column(SmallInteger)
    detail: Mapped[int | None] = mapped_column(Integer)


class ApiCredential(Base):
    """An IAM key and password the connection authenticates with; only an Argon2 hash is kept."""

    __tablename__ = "api_credentials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    iam_key: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiAuthFailure(FailureColumns, Base):
    """Failed API authentications per client address and IAM key (the subject), in the current
    window (kith.throttling)."""

    __tablename__ = "api_auth_failures"


class AutomationRule(Base):
    """An Automation Rule: members matching a criteria tree get an action, e.g. an email.

    The criteria are List Builder's, evaluated whenever the rule is read. Only `send_email`
    rules carry a subject; marketing reads the active ones to avoid duplicate mailings.
    """

    __tablename__ = "automation_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_key: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    criteria: Mapped[dict[str, Any]] = mapped_column(JSON)
    action: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str | None] = mapped_column(String(500))
    active: Mapped[bool] = mapped_column(Boolean)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("uq_automation_rules_name_lower", func.lower(name), unique=True),
        CheckConstraint(
            "(action = 'send_email') = (subject IS NOT NULL)",
            name="ck_automation_rules_subject_only_for_send_email",
        ),
    )


class Erasure(ErasureColumns, Base):
    """A member deleted at a person's request: who deleted them, when, and how many rows of
    each table went; nothing of the person (kith.community.personal_data)."""

    __tablename__ = "erasures"
