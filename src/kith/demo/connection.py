"""The demo's connection: Integration Settings, a test, Refresh Target Group List, a sync each.

Everything goes over the community's HTTP API, served on loopback for the length of the step,
as the connection works in production.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from kith.community.app import create_community_app
from kith.community.credentials import IssuedCredential
from kith.config import Settings
from kith.connection.client import CheckResult, check_connection, client_for
from kith.connection.refresh import RefreshReport, refresh_groups
from kith.connection.runs import SyncRuns
from kith.db import Database
from kith.encryption import SecretBox
from kith.marketing.groups.community import community_groups
from kith.marketing.integration import configure_integration
from kith.marketing.models import SyncRun
from kith.web.loopback import serve_on_loopback

SERVED_COMMUNITY_URL = "http://127.0.0.1:8000/community"  # `make serve`


@dataclass(frozen=True)
class ConnectionDemo:
    refresh: RefreshReport
    syncs: dict[str, SyncRun]  # by group name


@contextmanager
def community_online(
    community: Database,
    marketing: Database,
    settings: Settings,
    credential: IssuedCredential,
    *,
    now: datetime,
) -> Iterator[CheckResult]:
    """The community served on loopback for a block, entered (Active) in Integration Settings
    and tested; afterwards the settings point at what `make serve` serves."""
    box = SecretBox.from_settings(settings)
    with serve_on_loopback(create_community_app(community, settings)) as base_url:
        try:
            with marketing.transaction() as session:
                configure_integration(
                    session,
                    box=box,
                    now=now,
                    url=base_url,
                    iam_key=credential.credential.iam_key,
                    password=credential.password,
                    active=True,
                )
                check = check_connection(session, box)
            yield check
        finally:
            with marketing.transaction() as session:
                configure_integration(session, box=box, now=now, url=SERVED_COMMUNITY_URL)


def refresh_and_sync(marketing: Database, settings: Settings, *, now: datetime) -> ConnectionDemo:
    """Refresh Target Group List, then a sync of every community group."""
    box = SecretBox.from_settings(settings)
    with marketing.transaction() as session, client_for(session, box) as client:
        refresh = refresh_groups(session, client, now=now)
    with marketing.session() as session:
        groups = sorted((group.name, group.id) for group in community_groups(session).values())
    runs = SyncRuns(marketing, settings)
    syncs = {name: runs.here(group_id, trigger="manual", now=now) for name, group_id in groups}
    return ConnectionDemo(refresh, syncs)
