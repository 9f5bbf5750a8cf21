"""Tables of scoring and community reports: the community's activity by day, models, scores.

The community's activity is pulled by the connection (kith.connection.activity) as daily
aggregates keyed by Legacy Contact Key; scoring and reports join it to subscribers by their
Remote ID, never to the community's own database.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kith.db import BigId, UTCDateTime
from kith.marketing.models import Base


class CommunityActivityDay(Base):
    """How many events of one type a community member had on one UTC day."""

    __tablename__ = "community_activity_days"

    remote_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    activity_type: Mapped[str] = mapped_column(String(100), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_community_activity_days_day", "day", "activity_type"),)


class CommunityMember(Base):
    """A community member with a Legacy Contact Key, and when they joined, as last pulled."""

    __tablename__ = "community_members"

    remote_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ActivityPull(Base):
    """One pull of the community's daily activity: the days it replaced (from `since` on)."""

    __tablename__ = "activity_pulls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pulled_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    since: Mapped[date] = mapped_column(Date)
    through: Mapped[date] = mapped_column(Date)
    day_rows: Mapped[int] = mapped_column(Integer)
    members: Mapped[int] = mapped_column(Integer)


class ScoringModel(Base):
    """A version of the scoring model; the one with the highest version is the active one."""

    __tablename__ = "scoring_models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    grades: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SubscriberScore(Base):
    """A subscriber's score and grade from the last recompute, and the model version it used."""

    __tablename__ = "subscriber_scores"

    subscriber_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    score: Mapped[int] = mapped_column(Integer)
    grade: Mapped[str | None] = mapped_column(String(20), index=True)
    model_version: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
