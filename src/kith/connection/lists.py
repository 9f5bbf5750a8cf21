"""Community lists marketing asks for (campaign templates): created over the community API if
missing, then taken in as community groups by a refresh."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from kith.config import Settings
from kith.connection.client import client_for
from kith.connection.refresh import refresh_groups
from kith.db import Database
from kith.encryption import SecretBox
from kith.errors import Conflict
from kith.marketing.models import TargetGroup


def provide_community_list(
    db: Database, name: str, criteria: dict[str, Any], *, now: datetime, settings: Settings
) -> str:
    """The name of the community group behind the list `name`, creating the list with
    `criteria` when the community has none of that name (an existing one is kept as it is);
    marketing's `provide_community_list` port."""
    with (
        db.transaction() as session,
        client_for(session, SecretBox.from_settings(settings)) as client,
    ):
        existing = [found for found in client.get_json("/lists") if found["name"] == name]
        created = (
            existing[0]
            if existing
            else client.post_json("/lists", {"name": name, "criteria": criteria})
        )
        refresh_groups(session, client, now=now)
        group = session.scalar(
            select(TargetGroup.name).where(TargetGroup.list_key == created["key"])
        )
    if group is None:
        raise Conflict(f"the community list {name!r} did not become a community group")
    return group
