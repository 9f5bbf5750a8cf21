"""Both sides joined: a community served on loopback, and the marketing side configured to it.

The connection only ever reaches the community through that HTTP server, as in production.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from kith.community.app import create_community_app
from kith.community.credentials import create_credential
from kith.community.lists import create_list, delete_list, update_list
from kith.community.live_lists import keep_lists_current
from kith.config import Settings
from kith.connection.client import client_for
from kith.connection.live import sync_live_groups
from kith.connection.refresh import RefreshReport, refresh_groups
from kith.connection.sync import execute_sync, request_sync
from kith.csvimport.report import ImportReport
from kith.db import Database
from kith.encryption import SecretBox
from kith.marketing.groups.target_groups import get_group
from kith.marketing.integration import configure_integration
from kith.marketing.models import GroupMember, Subscriber, SyncRun
from kith.marketing.subscriber_import import SubscriberRow, SubscriberUpsert
from kith.web.loopback import serve_on_loopback
from tests.support.community_world import NOW, add_member


@dataclass
class World:
    """The two databases, the served community's URL, and the acts a test performs."""

    community: Database
    marketing: Database
    settings: Settings
    box: SecretBox
    url: str
    now: datetime = NOW

    def list(self, name: str, criteria: Any) -> str:
        with self.community.transaction() as session:
            return create_list(
                session, name=name, criteria=criteria, by="admin", now=self.now
            ).list_key

    def rename_list(self, key: str, name: str) -> None:
        with self.community.transaction() as session:
            update_list(session, key, by="admin", now=self.now, name=name)

    def change_criteria(self, key: str, criteria: Any) -> None:
        with self.community.transaction() as session:
            update_list(session, key, by="admin", now=self.now, criteria=criteria)

    def delete_list(self, key: str) -> None:
        with self.community.transaction() as session:
            delete_list(session, key, by="admin")

    def members(self, *rows: tuple[str, str | None, str | None]) -> None:
        """Community members as (contact_key, legacy_contact_key, email)."""
        with self.community.transaction() as session:
            for contact_key, legacy_key, email in rows:
                add_member(session, contact_key, legacy_contact_key=legacy_key, email=email)

    def subscribers(self, *rows: tuple[str, str | None, str]) -> None:
        """Subscribers as (email, remote_id, status)."""
        with self.marketing.transaction() as session:
            SubscriberUpsert(session, now=self.now, source="import").write(
                [
                    SubscriberRow(line, email, remote_id, status=status)
                    for line, (email, remote_id, status) in enumerate(rows, start=2)
                ],
                ImportReport(),
            )

    def configure(self, **changes: Any) -> None:
        with self.marketing.transaction() as session:
            configure_integration(session, box=self.box, now=self.now, **changes)

    def refresh(self) -> RefreshReport:
        with self.marketing.transaction() as session, client_for(session, self.box) as client:
            return refresh_groups(session, client, now=self.now)

    def group_id(self, group: str) -> int:
        with self.marketing.session() as session:
            return get_group(session, group).id

    def sync(self, group: str, *, allow_empty: bool = False, delta: bool = False) -> SyncRun:
        """Sync the group: in full as a person asks, or as the live pass asks (`delta`), after
        the pass a worker runs on the community's lists before it."""
        if delta:
            retention = self.settings.list_changes_retention
            keep_lists_current(self.community, now=self.now, retention=retention)
        requested = request_sync(
            self.marketing,
            self.group_id(group),
            trigger="live" if delta else "manual",
            now=self.now,
            allow_empty=allow_empty,
            delta=delta,
        )
        return execute_sync(
            self.marketing,
            requested.run.id,
            box=self.box,
            clock=lambda: self.now,
            empty_guard=self.settings.empty_guard,
        )

    def live_pass(self) -> list[SyncRun]:
        """What a worker does: a pass on the community's lists, then the live pass."""
        retention = self.settings.list_changes_retention
        keep_lists_current(self.community, now=self.now, retention=retention)
        return sync_live_groups(self.marketing, self.settings, now=self.now)

    def posters(self, count: int) -> str:
        """Members m1..m{count}, each with a subscriber (L1..); the list "Informz Posters"
        holding m1, its group refreshed and synced once. The list's key, to change it."""
        numbers = range(1, count + 1)
        self.members(*((f"m{n}", f"L{n}", f"m{n}@example.org") for n in numbers))
        self.subscribers(*((f"m{n}@example.org", f"L{n}", "subscribed") for n in numbers))
        key = self.list("Informz Posters", {"field": "contact_key", "op": "in", "value": ["m1"]})
        self.refresh()
        self.sync("Posters")
        return key

    def group_remote_ids(self, group: str) -> set[str | None]:
        with self.marketing.session() as session:
            group_id = get_group(session, group).id
            return set(
                session.scalars(
                    select(Subscriber.remote_id)
                    .join(GroupMember, GroupMember.subscriber_id == Subscriber.id)
                    .where(GroupMember.group_id == group_id)
                )
            )


@contextmanager
def joined_world(
    community_db: Database,
    marketing_db: Database,
    settings: Settings,
    *,
    community_at: datetime | None = None,
    **integration: Any,
) -> Iterator[World]:
    """A Super Admin, a credential, the community served (its API's clock stopped at
    `community_at`, when given), the Integration Settings Active."""
    with community_db.transaction() as session:
        add_member(session, "admin", is_super_admin=True, email="admin@example.org")
        issued = create_credential(session, name="Marketing", by="admin", now=NOW)
    box = SecretBox.from_settings(settings)
    community = create_community_app(community_db, settings)
    if community_at is not None:
        community.state.clock = lambda: community_at
    with serve_on_loopback(community) as base_url:
        world = World(community_db, marketing_db, settings, box, base_url)
        world.configure(
            url=base_url,
            iam_key=issued.credential.iam_key,
            password=issued.password,
            active=True,
            **integration,
        )
        yield world
