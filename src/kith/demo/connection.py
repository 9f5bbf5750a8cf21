"""The demo's connection: Integration Settings, a test, Refresh Target Group List, a sync each.

Everything goes over the community's HTTP API, served on loopback for the length of the step,
as the connection works in production.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kith.clock import utcnow
from kith.community.app import create_community_app
from kith.community.credentials import IssuedCredential
from kith.config import Settings
from kith.connection.client import CheckResult, check_connection, client_for
from kith.connection.refresh import RefreshReport, refresh_groups
from kith.connection.sync import execute_sync, request_sync
from kith.db import Database
from kith.encryption import SecretBox
from kith.marketing.community_groups import community_groups
from kith.marketing.integration import IntegrationView, configure_integration, get_integration
from kith.marketing.models import SyncRun
from kith.web.loopback import serve_on_loopback

SERVED_COMMUNITY_URL = "http://127.0.0.1:8000/community"  # `make serve`


@dataclass(frozen=True)
class ConnectionDemo:
    check: CheckResult
    refresh: RefreshReport
    syncs: dict[str, SyncRun]  # by group name
    integration: IntegrationView


def connect_and_sync(
    community: Database,
    marketing: Database,
    settings: Settings,
    credential: IssuedCredential,
    *,
    now: datetime,
) -> ConnectionDemo:
    """Enter the credential (Active), test it, refresh the group list and sync every group."""
    box = SecretBox.from_settings(settings)
    with serve_on_loopback(create_community_app(community, settings)) as base_url:
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
        with marketing.transaction() as session, client_for(session, box) as client:
            refresh = refresh_groups(session, client, now=now)
        with marketing.session() as session:
            names = sorted(group.name for group in community_groups(session).values())
        syncs = {}
        for name in names:
            run = request_sync(marketing, name, trigger="manual", now=now).run
            syncs[name] = execute_sync(
                marketing, run.id, box=box, clock=utcnow, empty_guard=settings.empty_guard
            )
        with marketing.transaction() as session:
            # what `make serve` serves, so that `kith connection test` works after the demo
            configure_integration(session, box=box, now=now, url=SERVED_COMMUNITY_URL)
            integration = IntegrationView.of(get_integration(session))
    return ConnectionDemo(check, refresh, syncs, integration)
