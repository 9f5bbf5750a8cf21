"""`make demo`: the main job end to end on the embedded default, as a user would run it.

It builds a demo community from CSV exports, the Custom User Lists a community manager would
make, and an API credential, then reads the lists back over the community's HTTP API the way
the connection will.
"""

from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from kith.app import start
from kith.community import lists
from kith.community.app import create_community_app
from kith.community.automation import create_rule
from kith.community.credentials import IssuedCredential, create_credential
from kith.community.ingest import ImportReport, import_activity, import_members, import_memberships
from kith.config import Settings
from kith.connection.client import CheckResult
from kith.db import Database
from kith.demo.accounts import DemoLogin, create_demo_logins
from kith.demo.bounces import BounceDemo, bounce_demo
from kith.demo.campaigns import CampaignDemo, run_demo_campaign
from kith.demo.community import SUPER_ADMIN_EMAIL, write_demo_community
from kith.demo.connection import ConnectionDemo, community_online, refresh_and_sync
from kith.demo.mailings import MailingDemo, send_demo_mailings
from kith.demo.marketing import MarketingDemo, build_marketing_demo
from kith.demo.privacy import PrivacyDemo, privacy_demo
from kith.demo.scoring import ScoringDemo, score_demo
from kith.errors import Conflict
from kith.marketing.app import create_marketing_app
from kith.marketing.integration import IntegrationView, get_integration
from kith.marketing.tokens import IssuedToken, create_token
from kith.migrate import upgrade
from kith.web.loopback import serve_on_loopback

MARKER = ".kith-demo"
DEMO_LISTS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("Informz Has Started Discussion Thread", {"activity": "thread_started"}),
    (
        "Informz Posted 3 Times This Month",
        {"activity": ["thread_started", "discussion_reply"], "min": 3, "within_days": 30},
    ),
    ("Informz No Activity In 90 Days", {"activity": "any", "max": 0, "within_days": 90}),
    ("Informz New Members", {"field": "joined_at", "op": "within_days", "value": 7}),
    (
        "Informz Chapter Members, Not Staff",
        {
            "all": [
                {"any": [{"member_of": "Chapter North"}, {"member_of": "Chapter South"}]},
                {"not": {"field": "member_type", "op": "eq", "value": "staff"}},
            ]
        },
    ),
    # not for marketing: no Informz prefix, so the connection will leave it alone
    ("Chapter Leads", {"field": "chapter_role", "op": "eq", "value": "lead"}),
)
# The community welcomes new members by e-mail itself: the duplicate guard will notice.
WELCOME_RULE: dict[str, Any] = {
    "name": "Welcome new members",
    "criteria": {"field": "joined_at", "op": "within_days", "value": 7},
    "action": "send_email",
    "subject": "Welcome to the community!",
}


@dataclass(frozen=True)
class DemoReport:
    settings: Settings
    imports: dict[str, ImportReport]
    lists: list[lists.ListSummary]
    credential: IssuedCredential
    lists_over_http: list[dict[str, Any]]
    api_url: str
    marketing: MarketingDemo
    connection: ConnectionDemo
    connection_check: CheckResult
    integration: IntegrationView
    mailings: MailingDemo
    bounce: BounceDemo | None
    privacy: PrivacyDemo | None
    campaign: CampaignDemo
    scoring: ScoringDemo
    logins: tuple[DemoLogin, DemoLogin]
    api_token: IssuedToken
    groups_over_http: list[dict[str, Any]]


def prepare_data_dir(data_dir: Path) -> None:
    """Start the demo afresh in `data_dir`, refusing to wipe a folder the demo did not make."""
    if data_dir.exists() and any(data_dir.iterdir()):
        if not (data_dir / MARKER).exists():
            raise Conflict(
                f"{data_dir} holds data the demo did not make; "
                "point KITH_DATA_DIR at another folder to run the demo"
            )
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    (data_dir / MARKER).write_text("made by `kith demo`; the next demo run replaces it\n")


def run_demo(settings: Settings, *, now: datetime) -> DemoReport:
    prepare_data_dir(settings.data_dir)
    start(settings)
    community = Database(settings.community_url)
    marketing = Database(settings.marketing_url)
    upgrade(community, "community")
    upgrade(marketing, "marketing")
    files = write_demo_community(settings.data_dir / "demo-input", now=now)
    imports = {
        "members": _import(community, import_members, files.members, now),
        "memberships": _import(community, import_memberships, files.memberships, now),
        "activity": _import(community, import_activity, files.activity, now),
    }
    with community.transaction() as session:
        for name, criteria in DEMO_LISTS:
            lists.create_list(session, name=name, criteria=criteria, by=SUPER_ADMIN_EMAIL, now=now)
        credential = create_credential(
            session, name="Marketing connection", by=SUPER_ADMIN_EMAIL, now=now
        )
        create_rule(session, by=SUPER_ADMIN_EMAIL, now=now, **WELCOME_RULE)
    with community.session() as session:
        summaries = lists.list_summaries(session, now=now)
    with serve_on_loopback(create_community_app(community, settings)) as base_url:
        response = httpx.get(
            f"{base_url}/api/v1/lists",
            headers={"HLIAMKey": credential.credential.iam_key, "HLPassword": credential.password},
            timeout=30,
        )
        response.raise_for_status()
    marketing_demo = build_marketing_demo(
        marketing, files.members, settings.data_dir / "demo-input", now=now
    )
    with community_online(community, marketing, settings, credential, now=now) as check:
        connection = refresh_and_sync(marketing, settings, now=now)
        mailings = send_demo_mailings(marketing, settings, now=now)
        campaign = run_demo_campaign(community, marketing, settings, now=now)
        scoring = score_demo(marketing, settings, now=now)
    bounce = bounce_demo(marketing, settings, mailings.sent.id, now=now)
    privacy = privacy_demo(marketing, settings, bounce.email) if bounce else None
    community.dispose()
    with marketing.session() as session:
        integration = IntegrationView.of(get_integration(session))
    with marketing.transaction() as session:
        token = create_token(session, name="Demo integrator", now=now)
    with serve_on_loopback(create_marketing_app(marketing, settings)) as base_url:
        groups_over_http = httpx.get(
            f"{base_url}/api/groups",
            headers={"Authorization": f"Bearer {token.token}"},
            timeout=30,
        )
        groups_over_http.raise_for_status()
    marketing.dispose()
    logins = create_demo_logins(settings, now)
    return DemoReport(
        settings=settings,
        imports=imports,
        lists=summaries,
        credential=credential,
        lists_over_http=response.json(),
        api_url="/community/api/v1/lists",
        marketing=marketing_demo,
        connection=connection,
        connection_check=check,
        integration=integration,
        mailings=mailings,
        bounce=bounce,
        privacy=privacy,
        campaign=campaign,
        scoring=scoring,
        logins=logins,
        api_token=token,
        groups_over_http=groups_over_http.json(),
    )


def _import(db: Database, importer: Any, path: Path, now: datetime) -> ImportReport:
    with path.open(newline="", encoding="utf-8") as file, db.bulk_transaction() as session:
        report: ImportReport = importer(session, csv.reader(file), now=now)
    return report
