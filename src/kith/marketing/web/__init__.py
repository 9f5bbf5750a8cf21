"""The marketing side's pages, in the product's words: Contacts, Mailings, Campaigns, Scoring,
Reports, Settings."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from kith.marketing.accounts import ADMIN, Account
from kith.marketing.web import (
    campaigns,
    compound,
    groups,
    home,
    integration,
    mailing_copies,
    mailing_people,
    mailings,
    members,
    reports,
    scoring,
    subscribers,
)
from kith.web import signin
from kith.web.site import install_site


def install_pages(app: FastAPI) -> None:
    """The pages on the marketing app (the connection adds its own: kith.connection.web)."""
    install_site(
        app,
        side="marketing",
        title="Kith Marketing",
        account_model=Account,
        admin_role=ADMIN,
        templates=Path(__file__).parent / "templates",
        routers=[
            signin.router,
            home.router,
            integration.router,
            groups.router,
            compound.router,
            members.router,
            subscribers.router,
            mailings.router,
            mailing_copies.router,
            mailing_people.router,
            campaigns.router,
            scoring.router,
            reports.router,
        ],
    )
